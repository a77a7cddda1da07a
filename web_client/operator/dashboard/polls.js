// @ts-check
// Polls and quizzes: create one (options, single or multiple choice, the correct answers of a
// quiz), launch it with a time limit, close it, and watch its tally (overall and per site).
import { h } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { act, button, field, flash, pct } from "../ui.js";
import { rerender } from "./context.js";

/** @param {import("./context.js").Dash} ctx */
export function pollsPanel(ctx) {
  const { st, sessionId, siteName } = ctx;
  const box = h("div", { class: "polls" });
  const pPrompt = /** @type {HTMLInputElement} */ (h("input", { type: "text", maxlength: "500", id: "poll-prompt" }));
  const pOptions = /** @type {HTMLTextAreaElement} */ (h("textarea", { rows: "4", id: "poll-options" }));
  const pMode = /** @type {HTMLSelectElement} */ (h("select", { id: "poll-mode" }, h("option", { value: "single" }, t("poll.single")), h("option", { value: "multiple" }, t("poll.multiple"))));
  const pCorrect = /** @type {HTMLInputElement} */ (h("input", { type: "text", id: "poll-correct", inputmode: "numeric" }));
  const pLimit = /** @type {HTMLInputElement} */ (h("input", { type: "number", min: "1", max: "86400", id: "poll-limit", class: "short" }));
  const pollList = h("div", {});

  /** @param {SubmitEvent} ev */
  async function create(ev) {
    ev.preventDefault();
    const options = pOptions.value.split("\n").map((s) => s.trim()).filter(Boolean);
    /** @type {{prompt: string, options: string[], mode: string, correct?: number[]}} */
    const body = { prompt: pPrompt.value.trim(), options, mode: pMode.value };
    const correct = pCorrect.value.split(/[,，\s]+/).filter(Boolean).map((n) => Number(n) - 1);
    if (correct.length) body.correct = correct;
    if (correct.some((n) => !Number.isInteger(n) || n < 0 || n >= options.length)) {
      flash(t("poll.badCorrect"), "error");
      return;
    }
    const form = /** @type {HTMLFormElement} */ (ev.currentTarget);
    await act(ev.submitter, async () => {
      await api.post(`/sessions/${sessionId}/polls`, body);
      form.reset(); // created: every field back to its default (单选 too); a refused one keeps them
      ctx.schedule("polls");
    }, t("poll.created"));
  }

  box.append(
    h(
      "details",
      { class: "create" },
      h("summary", {}, t("poll.create")),
      h(
        "form",
        { onsubmit: create },
        field(t("poll.prompt"), pPrompt),
        field(t("poll.options"), pOptions, t("poll.optionsHint")),
        field(t("poll.mode"), pMode),
        field(t("poll.correct"), pCorrect, t("poll.correctHint")),
        h("button", { type: "submit", class: "primary", id: "poll-create" }, t("poll.createBtn")),
      ),
    ),
    field(t("poll.limit"), pLimit, t("poll.limitHint")),
    pollList,
  );

  /** @param {any} p a poll with its tally */
  function poll(p) {
    const tally = p.tally || { answers: 0, per_option: p.options.map(() => 0), per_site: {} };
    const max = Math.max(1, ...tally.per_option);
    const correct = new Set(p.correct || []);
    return h(
      "div",
      { class: "poll", "data-poll-id": String(p.id), "data-state": p.state },
      h("h3", {}, p.prompt, " ", h("span", { class: `badge pl-${p.state}` }, t("poll.state." + p.state)), p.is_quiz ? h("span", { class: "pill" }, t("poll.quiz")) : null),
      h(
        "ol",
        { class: "poll-options" },
        p.options.map((/** @type {string} */ o, /** @type {number} */ i) =>
          h(
            "li",
            { class: correct.has(i) ? "correct" : null },
            h("span", { class: "opt" }, o, correct.has(i) ? ` ✓ ${t("poll.correctMark")}` : ""),
            h("meter", { min: "0", max: String(max), value: String(tally.per_option[i] || 0), "aria-label": o }),
            h("span", { class: "num" }, `${tally.per_option[i] || 0} (${pct(tally.per_option[i] || 0, tally.answers)})`),
          ),
        ),
      ),
      h("p", { class: "note" }, t("poll.answers", { n: tally.answers })),
      p.is_quiz && p.state === "closed" && tally.correct != null
        ? h("p", { class: "quiz-correct", "data-correct": String(tally.correct) }, t("poll.correctCount", { n: tally.correct, share: pct(tally.correct, tally.answers) }))
        : null,
      Object.keys(tally.per_site || {}).length
        ? h(
            "details",
            {},
            h("summary", {}, t("poll.perSite")),
            h(
              "table",
              { class: "grid compact" },
              h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("roll.site")), p.options.map((/** @type {string} */ o, /** @type {number} */ i) => h("th", { scope: "col", class: "num" }, `${i + 1}. ${o}`)))),
              h(
                "tbody",
                {},
                Object.entries(tally.per_site).map(([sid, counts]) =>
                  h("tr", {}, h("th", { scope: "row" }, siteName(sid)), counts.map((/** @type {number} */ c) => h("td", { class: "num" }, String(c)))),
                ),
              ),
            ),
          )
        : null,
      h(
        "div",
        { class: "row-actions" },
        p.state === "draft"
          ? button(t("poll.launch"), (/** @type {Event} */ ev) =>
              act(ev.currentTarget, async () => {
                const limit = Number(pLimit.value);
                await api.post(`/polls/${p.id}/launch`, limit > 0 ? { time_limit: limit } : {});
                ctx.schedule("polls");
              }), { class: "small primary", "data-key": `launch-${p.id}` })
          : null,
        p.state === "open"
          ? button(t("poll.close"), (/** @type {Event} */ ev) =>
              act(ev.currentTarget, async () => {
                await api.post(`/polls/${p.id}/close`);
                ctx.schedule("polls");
              }), { class: "small", "data-key": `close-${p.id}` })
          : null,
      ),
    );
  }

  function render() {
    const polls = [...st.polls].sort((a, b) => b.id - a.id);
    rerender(pollList, () => (polls.length ? h("div", {}, polls.map(poll)) : h("p", { class: "note" }, t("poll.none"))));
  }

  /**
   * A "poll_tally" event: applied straight to the poll shown, else the list reloads.
   * @param {any} data
   */
  function onTally(data) {
    const p = st.polls.find((x) => x.id === data.poll_id);
    if (p) {
      p.tally = { answers: data.answers, per_option: data.per_option, per_site: data.per_site };
      render();
    } else ctx.schedule("polls");
  }

  const loaders = {
    polls: async () => {
      const items = (await api.get(`/sessions/${sessionId}/polls`)).items;
      const old = new Map(st.polls.map((p) => [p.id, p]));
      st.polls = await Promise.all(
        items.map(async (/** @type {any} */ p) => {
          if (p.tally) return p;
          if (p.state === "draft") return { ...p, tally: old.get(p.id)?.tally || null };
          try {
            return await api.get(`/polls/${p.id}`);
          } catch (_err) {
            return { ...p, tally: old.get(p.id)?.tally || null };
          }
        }),
      );
      render();
    },
  };

  return { el: box, onTally, loaders };
}
