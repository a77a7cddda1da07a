// @ts-check
// Reports: per session (by org unit and by site, presence timeline) and per org unit
// (sessions over a date range), with charts and CSV/XLSX downloads.
import { h, clear } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, downloadUrl, errorText } from "/static/shared/api.js";
import { field, flashError, fmtDateTime, fmtTime, pct, table } from "./ui.js";
import { presenceTimeline, rateBars } from "./charts.js";

const COUNTS = ["expected", "present", "absent", "leave", "makeup", "pending", "late", "left_early"];

function countColumns() {
  return [
    ...COUNTS.map((k) => ({ label: t("report." + k), cell: (r) => String(r[k] ?? 0), class: "num" })),
    { label: t("report.rate"), cell: (r) => pct(r.present, r.expected), class: "num" },
  ];
}

function downloads(path, query = {}, prefix = "dl") {
  return h(
    "div",
    { class: "downloads" },
    h("a", { class: "btn", href: downloadUrl(path, { ...query, format: "xlsx" }), download: "", id: `${prefix}-xlsx` }, t("report.xlsx")),
    h("a", { class: "btn secondary", href: downloadUrl(path, { ...query, format: "csv" }), download: "", id: `${prefix}-csv` }, t("report.csv")),
  );
}

/**
 * @param {HTMLElement} root
 * @param {{sessionId?: number}} options a session's report, or (none) the reports across sessions
 */
export async function reportView(root, { sessionId }) {
  const charts = [];
  const destroy = () => charts.forEach((c) => c.destroy());
  const picker = await pickerPanel(sessionId);
  root.appendChild(picker);
  const body = h("div", { class: "report-body" });
  root.appendChild(body);
  if (sessionId) await sessionReport(body, sessionId, charts);
  return { destroy };
}

/**
 * The sessions to pick from, each with its date and time (the deployment's zone): those
 * already started first, the most recent on top (yesterday's is near the top), then those
 * to come, the soonest first.
 * @param {any[]} items @param {number | undefined} sessionId @param {number} now
 */
export function sessionGroups(items, sessionId, now) {
  const at = (s) => Date.parse(s.starts_at) || 0;
  const option = (s) => h("option", { value: String(s.id), selected: s.id === sessionId }, `${s.starts_at ? fmtDateTime(s.starts_at) : "—"} · ${s.title || `#${s.id}`}`);
  const past = items.filter((s) => at(s) <= now).sort((a, b) => at(b) - at(a) || b.id - a.id);
  const future = items.filter((s) => at(s) > now).sort((a, b) => at(a) - at(b) || a.id - b.id);
  return [
    past.length ? h("optgroup", { label: t("report.pastSessions") }, past.map(option)) : null,
    future.length ? h("optgroup", { label: t("report.upcomingSessions") }, future.map(option)) : null,
  ].filter((g) => g !== null);
}

async function pickerPanel(sessionId) {
  const sessionSel = h("select", { id: "report-session" });
  const unitSel = h("select", { id: "report-unit" });
  const from = h("input", { type: "date", id: "report-from" });
  const to = h("input", { type: "date", id: "report-to" });
  try {
    const [sessions, units] = await Promise.all([api.get("/sessions", { limit: 500 }), api.get("/org-units", { limit: 500 })]);
    sessionSel.appendChild(h("option", { value: "" }, t("report.pickSession")));
    sessionSel.append(...sessionGroups(sessions.items, sessionId, Date.now()));
    for (const u of units.items) unitSel.appendChild(h("option", { value: String(u.id) }, u.name));
  } catch (err) {
    flashError(err);
  }
  sessionSel.addEventListener("change", () => {
    if (sessionSel.value) window.location.hash = `#/sessions/${sessionSel.value}/report`;
  });
  const unitOut = h("div", { id: "unit-report" });
  const showUnit = async (ev) => {
    ev.preventDefault();
    await unitReport(unitOut, Number(unitSel.value), from.value, to.value);
  };
  return h(
    "section",
    { class: "panel no-print", id: "report-picker" },
    h("h1", {}, t("report.heading")),
    h("div", { class: "toolbar" }, field(t("report.session"), sessionSel)),
    h(
      "form",
      { class: "toolbar", onsubmit: showUnit },
      field(t("report.orgUnit"), unitSel),
      field(t("report.from"), from),
      field(t("report.to"), to),
      h("button", { type: "submit", id: "unit-report-show" }, t("report.showUnit")),
    ),
    unitOut,
  );
}

async function unitReport(out, unitId, from, to) {
  clear(out);
  const query = { from: from || undefined, to: to || undefined };
  try {
    const r = await api.get(`/org-units/${unitId}/report`, query);
    const rows = r.sessions || [];
    out.append(
      h("h2", {}, t("report.unitHeading", { name: r.name, from: r.from, to: r.to })),
      downloads(`/org-units/${unitId}/report`, query, "unit-dl"),
      rateBars(rows.map((s) => ({ label: s.title || `#${s.session_id}`, present: s.present, expected: s.expected })), { title: t("report.rateBySession") }).element,
      h(
        "div",
        { class: "table-scroll" },
        table([{ label: t("sessions.title"), cell: (s) => s.title }, { label: t("sessions.starts"), cell: (s) => fmtDateTime(s.starts_at) }, ...countColumns()], rows, { caption: t("report.bySession") }),
      ),
    );
  } catch (err) {
    out.appendChild(h("p", { class: "error", role: "alert" }, errorText(err)));
  }
}

async function sessionReport(out, sessionId, charts) {
  let report;
  let presence;
  try {
    [report, presence] = await Promise.all([
      api.get(`/sessions/${sessionId}/report`),
      api.get(`/sessions/${sessionId}/presence`).catch(() => null),
    ]);
  } catch (err) {
    out.appendChild(h("p", { class: "error", role: "alert" }, errorText(err)));
    return;
  }
  const tot = report.totals || {};
  const byUnit = report.by_org_unit || [];
  const bySite = report.by_site || [];
  const unitChart = rateBars(byUnit.map((r) => ({ label: r.name, present: r.present, expected: r.expected })), { title: t("report.rateByUnit") });
  const siteChart = rateBars(bySite.map((r) => ({ label: r.name, present: r.present, expected: r.expected })), { title: t("report.rateBySite") });
  charts.push(unitChart, siteChart);
  // Written here from the intervals, in the reader's language (the server's lines are English).
  const outages = (s) => (s.intervals || []).filter((iv) => iv.state !== "online");
  const lines = presence ? presence.sites.filter((s) => outages(s).length) : [];
  out.append(
    h(
      "section",
      { class: "panel", id: "session-report" },
      h("h2", {}, report.title || `#${sessionId}`, " ", h("span", { class: `badge st-${report.status}` }, t("status." + report.status))),
      h("p", { class: "note", id: "report-window" }, t("report.planned", { from: fmtDateTime(report.starts_at), to: fmtDateTime(report.ends_at) }), report.started_at ? ` · ${runText(report)}` : ""),
      report.phase !== "ended" ? h("p", { class: "note warn-note", id: "report-phase" }, t("report.phase." + report.phase)) : null,
      h(
        "p",
        { class: "totals", id: "report-totals" },
        t("report.totals", { present: tot.present ?? 0, expected: tot.expected ?? 0, rate: pct(tot.present ?? 0, tot.expected ?? 0), absent: tot.absent ?? 0, leave: tot.leave ?? 0, late: tot.late ?? 0, left: tot.left_early ?? 0, makeup: tot.makeup ?? 0 }),
        tot.pending ? ` · ${t("report.pendingTotal", { n: tot.pending })}` : "",
      ),
      absenteeSection(byUnit, bySite),
      leaveSection(report.trainees || []),
      h("h3", { class: "no-print" }, t("report.downloads")),
      h("p", { class: "downloads no-print" }, h("button", { type: "button", class: "btn", id: "report-print", onclick: () => window.print() }, t("report.print"))),
      downloads(`/sessions/${sessionId}/report`),
      h(
        "p",
        { class: "downloads" },
        h("a", { class: "btn secondary", href: downloadUrl(`/sessions/${sessionId}/interaction-log`, { format: "xlsx" }), download: "" }, t("report.logXlsx")),
        h("a", { class: "btn secondary", href: downloadUrl(`/sessions/${sessionId}/interaction-log`, { format: "csv" }), download: "" }, t("report.logCsv")),
      ),
    ),
    h("section", { class: "panel", id: "report-by-unit" }, h("h2", {}, t("report.byUnit")), unitChart.element, h("div", { class: "table-scroll" }, table([{ label: t("report.orgUnit"), cell: (r) => r.name }, ...countColumns(), absenteeColumn()], byUnit, { caption: t("report.byUnit") }))),
    h("section", { class: "panel", id: "report-by-site" }, h("h2", {}, t("report.bySite")), siteChart.element, h("div", { class: "table-scroll" }, table([{ label: t("roll.site"), cell: (r) => r.name }, ...countColumns(), absenteeColumn()], bySite, { caption: t("report.bySite") }))),
    rollCallSection(report.roll_calls || [], bySite),
    presence
      ? h(
          "section",
          { class: "panel", id: "presence-timeline" },
          h("h2", {}, t("report.timeline")),
          presenceTimeline(presence.sites, presence.from || report.starts_at, presence.to || report.ends_at, { title: t("report.timeline") }),
          h(
            "details",
            {},
            h("summary", {}, t("report.timelineText")),
            lines.length ? h("ul", {}, lines.map((s) => h("li", {}, h("strong", {}, s.site), h("ul", {}, outages(s).map((iv) => h("li", {}, `${t("presence." + iv.state)} ${fmtTime(iv.from)}–${fmtTime(iv.to)}`)))))) : h("p", { class: "note" }, t("report.noData")),
          ),
        )
      : "", // Element.append writes null as the text "null"
  );
}

/** The trainees with approved leave (请假): not absent, listed apart. */
function leaveSection(people) {
  const away = people.filter((p) => p.status === "leave");
  if (!away.length) return "";
  return h("div", { id: "report-leave" }, h("h3", {}, t("report.leaveTitle")), h("p", {}, away.map((p) => `${p.name}（${p.org_unit}）`).join("、")));
}

function names(list) {
  return (list || []).map((a) => a.name).join("、");
}

function absenteeColumn() {
  return { label: t("report.absentees"), cell: (r) => names(r.absentees) || "—", class: "names" };
}

/** "实际 16:00–18:30（晚 420 分钟）": when the session really ran, as attendance is judged. */
function runText(report) {
  const off = report.start_offset_minutes;
  const shift = off && Math.abs(off) >= 1 ? t(off > 0 ? "report.late_by" : "report.early_by", { n: Math.round(Math.abs(off)) }) : "";
  return t("report.ran", { from: fmtDateTime(report.started_at), to: report.ended_at ? fmtDateTime(report.ended_at) : t("report.now") }) + shift;
}

/** The absentees' names by org unit (and by site), readable on screen and on paper. */
function absenteeSection(byUnit, bySite) {
  const units = byUnit.filter((r) => r.absentees && r.absentees.length);
  const sites = bySite.filter((r) => r.absentees && r.absentees.length);
  const list = (groups, id) =>
    h("dl", { class: "absentees", id }, groups.map((g) => [h("dt", {}, t("report.groupCount", { name: g.name || "—", n: g.absentees.length })), h("dd", {}, names(g.absentees))]));
  return h(
    "div",
    { id: "report-absentees" },
    h("h3", {}, t("report.absenteesTitle")),
    units.length ? [h("h4", {}, t("report.byUnit")), list(units, "absentees-by-unit"), h("h4", {}, t("report.bySite")), list(sites, "absentees-by-site")] : h("p", { class: "note" }, t("report.noAbsentees")),
  );
}

function rollCallSection(calls, bySite) {
  if (!calls.length) return "";
  const siteName = new Map(bySite.map((r) => [String(r.site_id), r.name]));
  return h(
    "section",
    { class: "panel", id: "report-roll-calls" },
    h("h2", {}, t("report.rollCalls")),
    calls.map((call) => {
      const rows = Object.entries(call.by_site || {}).map(([siteId, n]) => ({ siteId, ...n }));
      const sum = (key) => rows.reduce((acc, r) => acc + (r[key] || 0), 0);
      return h(
        "div",
        { class: "roll-call-result" },
        h(
          "p",
          { class: "totals" },
          `${fmtDateTime(call.started_at)} · `,
          t("report.rollCallTotals", { answered: sum("answered"), expected: sum("expected"), missed: sum("missed") }),
        ),
        h(
          "div",
          { class: "table-scroll" },
          table(
            [
              { label: t("roll.site"), cell: (r) => siteName.get(r.siteId) || `#${r.siteId}` },
              { label: t("roll.answered"), cell: (r) => String(r.answered) },
              { label: t("roll.missed"), cell: (r) => String(r.missed) },
              { label: t("roll.pending"), cell: (r) => String(r.pending) },
            ],
            rows,
            { caption: t("report.rollCalls") },
          ),
        ),
        call.missed && call.missed.length
          ? h("p", { class: "note" }, t("roll.missedNames", { n: call.missed.length }), "：", call.missed.map((m) => m.name).join("、"))
          : null,
      );
    }),
  );
}
