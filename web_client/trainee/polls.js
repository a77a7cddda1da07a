// @ts-check
// The polls card: the open polls and quizzes of the session, answered once each.
import { h, clear, $ } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, ApiError } from "/static/shared/api.js";
import { later, notice, showError, state } from "./context.js";

export async function loadPolls() {
  if (!state.sessionId) return;
  const answer = await api.get(`/sessions/${state.sessionId}/polls`);
  state.polls = answer.items.filter((/** @type {any} */ p) => p.state === "open");
  // The server knows what I answered (also from before a reload or on another tab).
  for (const poll of state.polls) if (Array.isArray(poll.my_choices)) state.answeredPolls.set(poll.id, poll.my_choices);
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
    const mine = state.answeredPolls.get(poll.id);
    if (mine) {
      area.appendChild(answered(poll, mine));
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
 * An answered poll: its options, mine marked, and that the answer is in.
 * @param {any} poll
 * @param {number[]} mine the indexes of the options I chose
 */
function answered(poll, mine) {
  const options = poll.options.map((/** @type {string} */ text, /** @type {number} */ i) =>
    mine.includes(i)
      ? h("li", { class: "chosen" }, h("span", {}, text), " ", h("span", { class: "tag ok" }, t("polls.mine")))
      : h("li", { class: "muted" }, text),
  );
  return h(
    "div",
    { class: "poll answered", "data-poll-id": String(poll.id) },
    h("p", {}, h("strong", {}, poll.prompt)),
    h("ul", { class: "poll-options" }, options),
    h("p", { class: "message ok" }, t("polls.done")),
  );
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
  let mine = choices;
  try {
    const answer = await api.post(`/polls/${poll.id}/answers`, { choices });
    mine = answer.choices;
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "quiz.already_answered")) throw err;
    later("polls", loadPolls, 50); // answered before (another tab): the server says with what
  }
  state.answeredPolls.set(poll.id, mine);
  notice(t("polls.done"), "ok");
  renderPolls();
}
