// @ts-check
// The roll-call card: "I'm here" before the countdown ends (only calls for my room).
import { h, clear, $ } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { currentSession, showError, state } from "./context.js";

/** @type {ReturnType<typeof setTimeout> | undefined} */
let rollTimer;

/** @param {any} data a "roll_call" event */
export function addRollCall(data) {
  const id = data.roll_call_id || data.id;
  const session = currentSession();
  if (session && session.site_id && Array.isArray(data.site_ids) && !data.site_ids.includes(session.site_id)) return;
  const started = Date.parse(data.started_at);
  const deadline = Date.parse(data.deadline);
  const seconds = Number.isFinite(started) && Number.isFinite(deadline) ? (deadline - started) / 1000 : 60;
  state.rollCalls.set(id, { id, until: Date.now() + seconds * 1000, answered: false });
  renderRollCalls();
}

/** @param {any} data a "roll_call_ended" event */
export function endRollCall(data) {
  state.rollCalls.delete(data.roll_call_id || data.id);
  renderRollCalls();
}

export async function loadRollCalls() {
  if (!state.sessionId) return;
  const answer = await api.get(`/sessions/${state.sessionId}/roll-calls/open`);
  const session = currentSession();
  state.rollCalls.clear();
  for (const call of answer.items) {
    if (session && session.site_id && !call.site_ids.includes(session.site_id)) continue;
    state.rollCalls.set(call.id, { id: call.id, until: Date.now() + call.seconds_left * 1000, answered: call.answered });
  }
  renderRollCalls();
}

export function renderRollCalls() {
  const card = $("#rollcall-card");
  const area = $("#rollcall-area");
  const now = Date.now();
  for (const [id, call] of state.rollCalls) if (call.until <= now - 1500) state.rollCalls.delete(id);
  const calls = [...state.rollCalls.values()];
  card.hidden = calls.length === 0;
  const focused = document.activeElement && document.activeElement.id === "rollcall-answer";
  clear(area);
  for (const call of calls) {
    const left = Math.max(0, Math.ceil((call.until - now) / 1000));
    if (call.answered) {
      area.appendChild(h("p", { class: "message ok", id: "rollcall-done" }, t("rollcall.answered")));
      continue;
    }
    area.appendChild(h("p", {}, t("rollcall.prompt")));
    area.appendChild(h("p", { class: "countdown", "aria-live": "off" }, t("rollcall.left", { s: left })));
    area.appendChild(
      h("button", { type: "button", class: "primary", id: "rollcall-answer", onclick: () => answerRollCall(call.id).catch(showError) }, t("rollcall.answer")),
    );
  }
  if (focused && $("#rollcall-answer")) $("#rollcall-answer").focus();
  clearTimeout(rollTimer);
  if (calls.some((c) => !c.answered)) rollTimer = setTimeout(renderRollCalls, 1000);
}

/** @param {number} id */
async function answerRollCall(id) {
  await api.post(`/roll-calls/${id}/answer`);
  const call = state.rollCalls.get(id); // by id: the map may have been reloaded meanwhile
  if (call) call.answered = true;
  renderRollCalls();
}
