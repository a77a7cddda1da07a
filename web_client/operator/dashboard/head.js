// @ts-check
// The dashboard's header: the session's title, status, times, and start / end.
import { h } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, ApiError } from "/static/shared/api.js";
import { act, askInline, button, flash, fmtDateTime, fmtTime } from "../ui.js";
import { rerender } from "./context.js";

/**
 * After a start: the server's off-schedule warning (stays until dismissed), else "started".
 * @param {any} view the answer of POST /sessions/{id}/start
 */
function startedMessage(view) {
  const w = view && view.warning;
  if (!w) return flash(t("dash.started"), "ok");
  const n = Math.round(Math.abs(w.minutes_off));
  flash(t(w.minutes_off > 0 ? "dash.startedLate" : "dash.startedEarly", { n }), "warn");
}

/** The server's refusals of a start that needs a second question, and the question each asks. */
const UNUSUAL_START = { "session.start_other_day": "dash.askOtherDay", "session.start_early": "dash.askEarly" };

/** @param {import("./context.js").Dash} ctx */
export function headPanel(ctx) {
  const { sessionId, st } = ctx;
  const body = h("div", {});
  // "start it now?" / "end this session?" asked on the page, outside what a live update redraws
  const askBox = h("div", { id: "end-ask" });
  const el = h("div", { class: "dash-head" }, body, askBox);

  /** Ask before a start or an end, in askBox; the question goes when the status moves on. */
  function ask(/** @type {string} */ status, /** @type {() => void} */ draw) {
    askBox.dataset.status = status;
    draw();
  }

  /** Start; a start the server finds unusual (another day, well early) is asked about first. */
  function start(/** @type {HTMLElement} */ control) {
    const started = (/** @type {any} */ view) => {
      startedMessage(view);
      ctx.schedule("session");
    };
    return act(control, () =>
      api.post(`/sessions/${sessionId}/start`, { only_on_schedule: true }).then(started, (err) => {
        const key = err instanceof ApiError ? UNUSUAL_START[/** @type {keyof UNUSUAL_START} */ (err.code)] : undefined;
        if (!key) throw err;
        const when = fmtDateTime(err.details.starts_at, { year: undefined, month: "short", day: "numeric" });
        ask("scheduled", () =>
          askInline(askBox, t(key, { when, n: err.details.minutes_early }), t("dash.startAnyway"), (yes) =>
            act(yes, () => api.post(`/sessions/${sessionId}/start`).then(started)),
          { id: "start-ask-q" }),
        );
      }),
    );
  }

  function render() {
    const s = st.session;
    if (askBox.dataset.status !== s.status) askBox.replaceChildren(); // moved on: nothing left to ask
    rerender(body, () =>
      h(
        "div",
        {},
        h("h1", {}, s.title || `#${s.id}`, " ", h("span", { class: `badge st-${s.status}`, id: "session-status" }, t("status." + s.status))),
        h(
          "p",
          { class: "note" },
          h("span", { id: "session-window" }, `${fmtDateTime(s.starts_at)} – ${fmtDateTime(s.ends_at)}`),
          " · ",
          s.started_at ? h("span", { id: "session-started-at" }, t("dash.startedAt", { time: fmtTime(s.started_at) }), " · ") : null,
          t("dash.sitesCount", { n: s.site_ids.length }),
          " · ",
          h("a", { href: `#/sessions/${sessionId}/report` }, t("sessions.report")),
        ),
        h(
          "div",
          { class: "row-actions" },
          s.status === "scheduled"
            ? button(t("dash.startSession"), (/** @type {Event} */ ev) => start(/** @type {HTMLElement} */ (ev.currentTarget)), { class: "primary", "data-key": "start" })
            : null,
          s.status === "live"
            ? button(t("dash.endSession"), () =>
                ask("live", () =>
                  askInline(askBox, t("dash.endConfirm"), t("dash.endSession"), (yes) =>
                    act(yes, () => api.post(`/sessions/${sessionId}/end`).then(() => ctx.schedule("session")), t("dash.ended")),
                  { id: "end-ask-q", danger: true })),
              { class: "danger", "data-key": "end" })
            : null,
        ),
      ),
    );
  }

  return { el, render };
}
