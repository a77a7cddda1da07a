// @ts-check
// Helpers shared by the console's smaller panels (codes, transcripts, honour list, surveys,
// electives, feedback, attendance corrections, audit reader).
import { h } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { listAll } from "./manage.js";
import { fmtDateTime } from "./ui.js";

addMessages({
  zh: {
    "tabs.label": "本课次页面",
    "tabs.live": "直播调度",
    "tabs.report": "报表",
    "tabs.attendance": "考勤更正",
    "tabs.electives": "选课报名",
    "tabs.feedback": "课后评价",
    "ui.print": "打印",
    "ui.prev": "上一页",
    "ui.next": "下一页",
    "ui.pageOf": "第 {from}–{to} 条，共 {total} 条",
  },
  en: {
    "tabs.label": "Pages of this session",
    "tabs.live": "Live desk",
    "tabs.report": "Report",
    "tabs.attendance": "Corrections",
    "tabs.electives": "Electives",
    "tabs.feedback": "Feedback",
    "ui.print": "Print",
    "ui.prev": "Previous",
    "ui.next": "Next",
    "ui.pageOf": "{from}–{to} of {total}",
  },
});

/** The links between one session's pages; `here` is the current one. */
export function sessionTabs(sessionId, here) {
  const tabs = [
    ["live", `#/sessions/${sessionId}/live`],
    ["report", `#/sessions/${sessionId}/report`],
    ["attendance", `#/sessions/${sessionId}/attendance`],
    ["electives", `#/sessions/${sessionId}/electives`],
    ["feedback", `#/sessions/${sessionId}/feedback`],
  ];
  return h(
    "nav",
    { class: "subnav no-print", "aria-label": t("tabs.label") },
    tabs.map(([key, href]) => h("a", { class: "btn secondary small", href, "aria-current": key === here ? "page" : null }, t(`tabs.${key}`))),
  );
}

/** One session's page heading: its title, times and status, and the tabs; returns the session. */
export async function sessionHeader(root, sessionId, here, titleKey) {
  const s = await api.get(`/sessions/${sessionId}`);
  root.append(
    h("h1", {}, t(titleKey), " · ", s.title || `#${s.id}`),
    h("p", { class: "note" }, `${fmtDateTime(s.starts_at)} – ${fmtDateTime(s.ends_at)} · ${t("status." + s.status)}`),
    sessionTabs(sessionId, here),
  );
  return s;
}

/** id -> name of every org unit or site (for tables that hold ids). */
export async function names(resource) {
  const out = new Map();
  for (const item of await listAll(resource)) out.set(item.id, item.name);
  return out;
}

/** Let the browser save a Blob under a file name. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename, class: "visually-hidden" });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A console panel: its heading first, then the rest. */
export function panelSection(heading, ...children) {
  return h("section", { class: "panel" }, h("h1", {}, heading), ...children);
}

/** A toolbar form (not printed) that runs `load` again when sent. */
export function reloadForm(load, ...controls) {
  return h("form", { class: "toolbar no-print", onsubmit: (ev) => { ev.preventDefault(); load(); } }, ...controls);
}

export function printButton() {
  return h("button", { type: "button", class: "secondary no-print", onclick: () => window.print() }, t("ui.print"));
}

/** Prev/next for a paged list: `page` = {total, limit, offset}; `go(offset)` loads. */
export function pager(page, go) {
  const from = page.total ? page.offset + 1 : 0;
  const to = Math.min(page.total, page.offset + page.limit);
  return h(
    "div",
    { class: "toolbar no-print pager" },
    h("button", { type: "button", class: "small", disabled: page.offset <= 0, onclick: () => go(Math.max(0, page.offset - page.limit)) }, t("ui.prev")),
    h("span", {}, t("ui.pageOf", { from, to, total: page.total })),
    h("button", { type: "button", class: "small", disabled: to >= page.total, onclick: () => go(page.offset + page.limit) }, t("ui.next")),
  );
}

/** Hours as people write them: at most one decimal. */
export function hours(n) {
  return (Math.round(Number(n || 0) * 10) / 10).toString();
}
