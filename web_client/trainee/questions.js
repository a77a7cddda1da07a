// @ts-check
// The question on air, the question wall (upvote / withdraw) and asking a question.
import { h, clear, $ } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { later, notice, randomId, showError, state } from "./context.js";

// ---------------------------------------------------------------- on air

export async function loadOnAir() {
  if (!state.sessionId) return;
  const answer = await api.get(`/sessions/${state.sessionId}/on-air`);
  state.onAir = answer.current || null;
  renderOnAir();
}

export function renderOnAir() {
  // Only a live session puts a question on air: without one the card has nothing to say.
  $("#onair-card").hidden = !state.sessionId;
  const el = $("#onair-text");
  el.classList.toggle("muted", !state.onAir);
  el.textContent = state.onAir ? state.onAir.text : t("onair.none");
}

/** @param {any} data a "question_on_air" event */
export function onAirEvent(data) {
  state.onAir = data.question || null;
  renderOnAir();
  later("questions", loadQuestions);
}

/** @param {any} data a "question_off_air" event */
export function offAirEvent(data) {
  if (!state.onAir || !data.question || state.onAir.id === data.question.id) state.onAir = null;
  renderOnAir();
  later("questions", loadQuestions);
}

// ---------------------------------------------------------------- questions

export async function loadQuestions() {
  if (!state.sessionId) return;
  const version = state.questionsVersion;
  const answer = await api.get(`/sessions/${state.sessionId}/questions`, { order: "votes" });
  if (version !== state.questionsVersion) {
    // I voted or asked while this list was on its way: it may be older than what I did.
    later("questions", loadQuestions, 50);
    return;
  }
  state.questions = answer.items;
  renderQuestions();
}

/** @param {any} data a "question_votes" event */
export function applyVotes(data) {
  const id = data.question_id || data.id;
  const q = state.questions.find((x) => x.id === id);
  if (q && typeof data.vote_count === "number") {
    q.vote_count = data.vote_count;
    renderQuestions();
  } else {
    later("questions", loadQuestions);
  }
}

export function renderQuestions() {
  // Questions are asked in a live session: once it ended (or before one starts) neither the
  // form nor the wall can have anything; the session card says that none is live.
  $("#ask-card").hidden = !state.sessionId;
  $("#questions-card").hidden = !state.sessionId;
  const list = $("#questions");
  const active = /** @type {HTMLElement | null} */ (document.activeElement);
  const focusedId = active && active.dataset ? active.dataset.questionId : null;
  clear(list);
  if (!state.questions.length) {
    list.appendChild(h("li", { class: "muted" }, t("questions.none")));
    return;
  }
  for (const q of state.questions) {
    const tags = [];
    if (q.state === "on_air") tags.push(h("span", { class: "tag ok" }, t("questions.on_air")));
    if (q.pinned) tags.push(h("span", { class: "tag" }, t("questions.pinned")));
    if (q.state === "submitted") tags.push(h("span", { class: "tag" }, t("questions.submitted")));
    if (q.is_mine) tags.push(h("span", { class: "tag" }, t("questions.mine")));
    const voted = Boolean(q.voted_by_me);
    const button = h(
      "button",
      {
        type: "button",
        class: "vote",
        "aria-pressed": voted ? "true" : "false",
        "aria-label": t(voted ? "questions.unvote_label" : "questions.vote_label", { n: q.vote_count }),
        "data-question-id": String(q.id),
        disabled: q.state === "submitted",
        onclick: () => toggleVote(q.id).catch(showError),
      },
      `▲ ${q.vote_count}`,
    );
    list.appendChild(
      h(
        "li",
        { class: "question", "data-id": String(q.id) },
        h(
          "div",
          { class: "q-row" },
          h("div", { class: "q-body" }, h("p", { class: "q-text" }, q.text), h("div", { class: "q-meta row" }, tags)),
          button,
        ),
      ),
    );
  }
  if (focusedId) {
    const again = /** @type {HTMLElement | null} */ (list.querySelector(`button[data-question-id="${CSS.escape(focusedId)}"]`));
    if (again) again.focus();
  }
}

/** @param {number} id */
async function toggleVote(id) {
  // The list may have been reloaded since it was drawn: act on the current copy, by id.
  const current = () => state.questions.find((x) => x.id === id);
  const before = current();
  if (!before) return;
  const path = `/questions/${id}/vote`;
  const answer = before.voted_by_me ? await api.del(path) : await api.post(path);
  state.questionsVersion += 1;
  const q = current();
  if (q) {
    q.voted_by_me = answer.voted_by_me;
    q.vote_count = answer.vote_count;
  }
  renderQuestions();
}

// ---------------------------------------------------------------- asking

/** @param {SubmitEvent} ev */
export async function onAsk(ev) {
  ev.preventDefault();
  const text = $("#ask-text").value.trim();
  if (!text) {
    notice(t("ask.empty"));
    return;
  }
  if (!state.sessionId) {
    notice(t("session.none"));
    return;
  }
  try {
    const q = await api.post(`/sessions/${state.sessionId}/questions`, {
      text,
      anonymous: $("#ask-anon").checked,
      client_id: randomId("q-"),
    });
    $("#ask-text").value = "";
    state.questionsVersion += 1;
    notice(t(q.state === "submitted" ? "ask.waiting" : "ask.ok"), "ok");
    await loadQuestions();
  } catch (err) {
    showError(err);
  }
}
