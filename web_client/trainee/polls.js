// @ts-check
// The polls card: the open polls and quizzes of the session, answered once each.
import { h, clear, $ } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, ApiError } from "/static/shared/api.js";
import { notice, showError, state } from "./context.js";

export async function loadPolls() {
  if (!state.sessionId) return;
  const answer = await api.get(`/sessions/${state.sessionId}/polls`);
  state.polls = answer.items.filter((/** @type {any} */ p) => p.state === "open");
  renderPolls();
}

export function renderPolls() {
  const card = $("#polls-card");
  const area = $("#polls-area");
  // Redrawn whenever a poll opens or closes: keep the options already ticked, and the focus.
  const ticked = new Set([...area.querySelectorAll("input:checked")].map((i) => i.id));
  const active = document.activeElement;
  const focusedId = active && area.contains(active) ? active.id : null;
  card.hidden = state.polls.length === 0;
  clear(area);
  for (const poll of state.polls) {
    const multi = poll.mode === "multiple";
    const name = `poll-${poll.id}`;
    if (state.answeredPolls.has(poll.id)) {
      area.appendChild(h("div", { class: "poll" }, h("p", {}, h("strong", {}, poll.prompt)), h("p", { class: "message ok" }, t("polls.done"))));
      continue;
    }
    const options = poll.options.map((/** @type {string} */ text, /** @type {number} */ i) =>
      h(
        "label",
        { class: "option", for: `${name}-${i}` },
        h("input", { type: multi ? "checkbox" : "radio", name, id: `${name}-${i}`, value: String(i), checked: ticked.has(`${name}-${i}`) }),
        h("span", {}, text),
      ),
    );
    const form = h(
      "form",
      { class: "poll", "data-poll-id": String(poll.id), onsubmit: (/** @type {SubmitEvent} */ ev) => answerPoll(ev, poll).catch(showError) },
      h(
        "fieldset",
        {},
        h("legend", {}, `${t("polls.legend", { kind: t(poll.is_quiz ? "polls.quiz" : "polls.poll"), prompt: poll.prompt })} ${multi ? t("polls.multi") : ""}`),
        options,
      ),
      h("button", { type: "submit", class: "primary" }, t("polls.submit")),
    );
    area.appendChild(form);
  }
  const again = focusedId ? document.getElementById(focusedId) : null;
  if (again) again.focus();
}

/**
 * @param {SubmitEvent} ev
 * @param {any} poll
 */
async function answerPoll(ev, poll) {
  ev.preventDefault();
  const form = /** @type {HTMLFormElement} */ (ev.target);
  const choices = [...form.querySelectorAll("input:checked")].map((i) => Number(/** @type {HTMLInputElement} */ (i).value));
  if (!choices.length) {
    notice(t("polls.pick"));
    return;
  }
  try {
    await api.post(`/polls/${poll.id}/answers`, { choices });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "quiz.already_answered")) throw err;
  }
  state.answeredPolls.add(poll.id);
  notice(t("polls.done"), "ok");
  renderPolls();
}
