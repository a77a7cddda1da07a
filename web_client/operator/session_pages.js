// @ts-check
// One session's smaller pages, reached from the session list and from each other (tabs):
//   #/sessions/<id>/electives   capacity, registration open or closed, enrolment and waitlist
//   #/sessions/<id>/feedback    the trainees' ratings (course, lecturers) and comments
// (#/sessions/<id>/attendance, the corrections and manual marks, is attendance.js.)
import { h, clear } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { act, field, flashError, fmtDateTime, table } from "./ui.js";
import { printButton, sessionHeader } from "./panel.js";

addMessages({
  zh: {
    "el.heading": "选课报名",
    "el.capacity": "名额（留空为不限）",
    "el.open": "开放报名",
    "el.save": "保存设置",
    "el.saved": "报名设置已保存。",
    "el.summary": "已报名 {registered} 人 · 候补 {waitlisted} 人 · 名额 {capacity}",
    "el.unlimited": "不限",
    "el.state": "状态",
    "el.position": "候补顺序",
    "el.at": "报名时间",
    "el.registered": "已报名",
    "el.waitlisted": "候补",
    "el.cancelled": "已取消",
    "fb.heading": "课后评价",
    "fb.course": "课程：{title}",
    "fb.count": "{n} 人评价",
    "fb.mean": "平均 {mean} 分",
    "fb.stars": "{n} 星",
    "fb.lecturer": "授课老师",
    "fb.comments": "意见和建议（{n} 条）",
    "fb.none": "还没有评价。",
  },
  en: {
    "el.heading": "Electives",
    "el.capacity": "Seats (empty: no limit)",
    "el.open": "Registration open",
    "el.save": "Save settings",
    "el.saved": "Registration settings saved.",
    "el.summary": "{registered} registered · {waitlisted} waiting · seats {capacity}",
    "el.unlimited": "no limit",
    "el.state": "Status",
    "el.position": "Waitlist no.",
    "el.at": "Registered at",
    "el.registered": "registered",
    "el.waitlisted": "waitlisted",
    "el.cancelled": "cancelled",
    "fb.heading": "Feedback",
    "fb.course": "Course: {title}",
    "fb.count": "{n} ratings",
    "fb.mean": "average {mean}",
    "fb.stars": "{n} stars",
    "fb.lecturer": "Lecturer",
    "fb.comments": "Comments ({n})",
    "fb.none": "No feedback yet.",
  },
});

// ---------------------------------------------------------------- electives

export async function electivesView(root, sessionId) {
  const panel = h("section", { class: "panel" });
  root.appendChild(panel);
  await sessionHeader(panel, sessionId, "electives", "el.heading");
  const settings = await api.get(`/sessions/${sessionId}/settings`);
  const capacity = h("input", { type: "number", id: "el-capacity", min: "0", max: "100000", class: "short", value: settings.capacity ?? "" });
  const open = h("input", { type: "checkbox", id: "el-open", checked: settings.registration_open });
  const out = h("div", { id: "el-list" });
  const load = async () => {
    try {
      const r = await api.get(`/sessions/${sessionId}/registrations`);
      clear(out).append(
        h("p", { id: "el-summary", class: "stat-row" }, t("el.summary", { registered: r.registered, waitlisted: r.waitlisted, capacity: r.capacity ?? t("el.unlimited") })),
        table(
          [
            { label: t("att.name"), cell: (x) => h("a", { href: `#/trainees/${x.trainee_id}/transcript` }, x.name) },
            { label: t("tr.staffNo"), cell: (x) => x.staff_no },
            { label: t("el.state"), cell: (x) => h("span", { class: x.status === "registered" ? "tag ok" : "tag" }, t(`el.${x.status}`)) },
            { label: t("el.position"), cell: (x) => (x.position ? String(x.position) : "—"), class: "num" },
            { label: t("el.at"), cell: (x) => fmtDateTime(x.created_at) },
          ],
          r.items.filter((x) => x.status !== "cancelled"),
          { id: "el-table" },
        ),
      );
    } catch (err) {
      flashError(err);
    }
  };
  panel.append(
    h(
      "form",
      {
        class: "toolbar no-print",
        onsubmit: (ev) => {
          ev.preventDefault();
          act(ev.submitter, async () => {
            await api.put(`/sessions/${sessionId}/settings`, { capacity: capacity.value === "" ? null : Number(capacity.value), registration_open: open.checked });
            await load();
          }, t("el.saved"));
        },
      },
      field(t("el.capacity"), capacity),
      h("label", { class: "check", for: open.id }, open, t("el.open")),
      h("button", { type: "submit", class: "primary" }, t("el.save")),
      printButton(),
    ),
    out,
  );
  await load();
  return null;
}

// ---------------------------------------------------------------- feedback

function distribution(summary) {
  const most = Math.max(1, ...summary.distribution);
  return h(
    "ul",
    { class: "list" },
    summary.distribution.map((n, i) =>
      h("li", { class: "bar-cell" }, h("span", {}, t("fb.stars", { n: i + 1 })), h("meter", { min: "0", max: String(most), value: String(n) }), h("span", { class: "num" }, String(n))),
    ),
  );
}

export async function feedbackView(root, sessionId) {
  const panel = h("section", { class: "panel" });
  root.appendChild(panel);
  await sessionHeader(panel, sessionId, "feedback", "fb.heading");
  let fb;
  try {
    fb = await api.get(`/sessions/${sessionId}/feedback`);
  } catch (err) {
    flashError(err);
    return null;
  }
  const mean = (s) => (s.mean == null ? "—" : (Math.round(s.mean * 10) / 10).toString());
  panel.append(
    h("div", { class: "toolbar no-print" }, printButton()),
    h("h2", {}, t("fb.course", { title: fb.course_title })),
    fb.course.count
      ? h("div", { id: "fb-course" }, h("p", { class: "stat-row" }, h("span", { class: "stat" }, h("b", {}, mean(fb.course)), t("fb.mean", { mean: mean(fb.course) })), h("span", { class: "stat" }, h("b", {}, String(fb.course.count)), t("fb.count", { n: fb.course.count }))), distribution(fb.course))
      : h("p", { class: "note", id: "fb-course" }, t("fb.none")),
    Object.keys(fb.lecturers).length
      ? table(
          [
            { label: t("fb.lecturer"), cell: ([name]) => name },
            { label: t("fb.count", { n: "" }).trim(), cell: ([, s]) => String(s.count), class: "num" },
            { label: t("fb.mean", { mean: "" }).trim(), cell: ([, s]) => mean(s), class: "num" },
          ],
          Object.entries(fb.lecturers),
          { id: "fb-lecturers" },
        )
      : "", // not null: append() would write "null" on the page
    h("h2", {}, t("fb.comments", { n: fb.comments.length })),
    h("ol", { class: "comments", id: "fb-comments" }, fb.comments.map((c) => h("li", {}, c))),
  );
  return null;
}
