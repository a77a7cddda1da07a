// @ts-check
// The dashboard's header: the session's title, status, times, and start / end.
import { h } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { act, button, flash, fmtDateTime, fmtTime } from "../ui.js";
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

/** @param {import("./context.js").Dash} ctx */
export function headPanel(ctx) {
  const { sessionId, st } = ctx;
  const el = h("div", { class: "dash-head" });

  function render() {
    const s = st.session;
    rerender(el, () =>
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
            ? button(t("dash.startSession"), (/** @type {Event} */ ev) => act(ev.currentTarget, () => api.post(`/sessions/${sessionId}/start`).then((view) => {
                startedMessage(view);
                ctx.schedule("session");
              })), { class: "primary", "data-key": "start" })
            : null,
          s.status === "live"
            ? button(t("dash.endSession"), (/** @type {Event} */ ev) => {
                if (window.confirm(t("dash.endConfirm"))) act(ev.currentTarget, () => api.post(`/sessions/${sessionId}/end`).then(() => ctx.schedule("session")), t("dash.ended"));
              }, { class: "danger", "data-key": "end" })
            : null,
        ),
      ),
    );
  }

  return { el, render };
}
