// @ts-check
// My class hours this year: the year's progress against the requirement and each session.
import { h, clear, $ } from "/static/shared/dom.js";
import { t, getLang } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { fmtDateTime } from "/static/shared/time.js";
import { state } from "./context.js";
import { selfStudyHoursPart } from "./selfstudy.js";

export async function loadTranscript() {
  state.transcript = await api.get("/trainee/transcript");
  renderHours();
}

/** Hours as people write them: at most one decimal. @param {number|string} n */
function fmt(n) {
  return (Math.round(Number(n) * 10) / 10).toString();
}

/**
 * A session's hours; a session still running has none yet (its 0 is not a result), so it says
 * when they come instead.
 * @param {any} r a result of the transcript
 */
function amount(r) {
  return r.final === false ? t("hours.afterEnd") : t("hours.amount", { n: fmt(r.class_hours) });
}

export function renderHours() {
  const area = $("#hours-area");
  clear(area);
  const tr = state.transcript;
  if (!tr) return;
  const p = tr.progress;
  area.appendChild(
    h("p", { id: "hours-summary" }, t("hours.summary", { year: tr.year, hours: fmt(p.class_hours), required: fmt(p.required_hours), percent: fmt(p.percent) })),
  );
  area.appendChild(
    h("progress", { class: "hours", max: String(p.required_hours || 1), value: String(Math.min(p.class_hours, p.required_hours || 1)), "aria-label": t("hours.title") }),
  );
  area.appendChild(h("p", {}, p.met ? t("hours.met") : t("hours.remaining", { n: fmt(p.remaining_hours) }), " · ", t("hours.sessions", { n: p.sessions_counted })));
  for (const node of selfStudyHoursPart(tr)) if (node) area.appendChild(node);
  if (!tr.results.length) {
    // With self-study courses the card already shows hours: say that only live sessions are missing.
    const none = !(tr.selfstudy || []).length ? "hours.none" : p.counts_selfstudy ? "hours.noneLiveSelf" : "hours.noneLive";
    area.appendChild(h("p", { id: "hours-none", class: "muted" }, t(none)));
    return;
  }
  const list = h("ul", { class: "list results" });
  for (const r of tr.results) {
    const tags = [];
    if (r.final === false) tags.push(h("span", { class: "tag" }, t("hours.inProgress")));
    if (r.absent) tags.push(h("span", { class: "tag bad" }, t("hours.absent")));
    else if (r.on_leave) tags.push(h("span", { class: "tag" }, t("hours.onLeave")));
    else if (r.credited) tags.push(h("span", { class: "tag ok" }, t("hours.credited")));
    if (r.late) tags.push(h("span", { class: "tag" }, t("hours.late")));
    if (r.left_early) tags.push(h("span", { class: "tag" }, t("hours.left_early")));
    list.appendChild(
      h("li", {}, h("div", {}, r.session_title || r.course_title), h("div", { class: "q-meta row" }, fmtDateTime(r.starts_at, getLang()), " · ", amount(r), tags)),
    );
  }
  area.appendChild(list);
}
