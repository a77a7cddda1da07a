// @ts-check
// One session's smaller pages, reached from the session list and from each other (tabs):
//   #/sessions/<id>/attendance  corrections and manual marks, each with a reason (audited)
//   #/sessions/<id>/electives   capacity, registration open or closed, enrolment and waitlist
//   #/sessions/<id>/feedback    the trainees' ratings (course, lecturers) and comments
import { h, clear, $ } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api, errorText } from "/static/shared/api.js";
import { act, field, flash, flashError, fmtDateTime, table } from "./ui.js";
import { hours, printButton, sessionTabs } from "./panel.js";

addMessages({
  zh: {
    "att.heading": "考勤更正与补签",
    "att.intro": "为没能签到的学员补签，或更正课次结果（缺勤、迟到、早退、学时）。每次操作都须填写原因，并记入审计日志。",
    "att.filter": "筛选",
    "att.all": "全部",
    "att.search": "姓名或工号",
    "att.name": "姓名",
    "att.unit": "单位",
    "att.site": "课堂",
    "att.status": "结果",
    "att.minutes": "在场分钟",
    "att.hours": "学时",
    "att.actions": "操作",
    "att.mark": "补签",
    "att.correct": "更正",
    "att.reason": "原因（必填）",
    "att.reasonHint": "例如：手机没电，经课堂管理员现场确认",
    "att.markTitle": "为 {name} 补签",
    "att.correctTitle": "更正 {name} 的结果",
    "att.absentBox": "缺勤",
    "att.lateBox": "迟到",
    "att.leftEarlyBox": "早退",
    "att.classHours": "学时",
    "att.attended": "在场分钟",
    "att.save": "确认",
    "att.marked": "已为 {name} 补签。",
    "att.corrected": "已更正 {name} 的结果。",
    "att.needReason": "请填写原因。",
    "att.caption": "{n} 名学员",
    "att.byStaffNo": "按工号补签（名单外的学员）",
    "att.staffNo": "工号",
    "att.find": "查找并补签",
    "att.notFound": "没有工号为 {no} 的学员。",
    "att.audit": "查看审计日志",
    "st.present": "出勤",
    "st.absent": "缺勤",
    "st.makeup": "补课",
    "st.pending": "进行中",
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
    "att.heading": "Attendance corrections",
    "att.intro": "Mark a trainee present who could not check in, or correct a result (absent, late, left early, class hours). Each needs a reason and goes into the audit trail.",
    "att.filter": "Show",
    "att.all": "All",
    "att.search": "Name or staff no.",
    "att.name": "Name",
    "att.unit": "Org unit",
    "att.site": "Site",
    "att.status": "Result",
    "att.minutes": "Minutes present",
    "att.hours": "Class hours",
    "att.actions": "Actions",
    "att.mark": "Mark present",
    "att.correct": "Correct",
    "att.reason": "Reason (required)",
    "att.reasonHint": "e.g. phone battery dead; confirmed in the room by the site staff",
    "att.markTitle": "Mark {name} present",
    "att.correctTitle": "Correct the result of {name}",
    "att.absentBox": "Absent",
    "att.lateBox": "Late",
    "att.leftEarlyBox": "Left early",
    "att.classHours": "Class hours",
    "att.attended": "Minutes present",
    "att.save": "Confirm",
    "att.marked": "{name} marked present.",
    "att.corrected": "Result of {name} corrected.",
    "att.needReason": "Give a reason.",
    "att.caption": "{n} trainees",
    "att.byStaffNo": "Mark by staff number (a trainee not listed)",
    "att.staffNo": "Staff no.",
    "att.find": "Find and mark",
    "att.notFound": "No trainee has staff number {no}.",
    "att.audit": "Open the audit trail",
    "st.present": "present",
    "st.absent": "absent",
    "st.makeup": "make-up",
    "st.pending": "in progress",
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

async function header(root, sessionId, here, titleKey) {
  const s = await api.get(`/sessions/${sessionId}`);
  root.append(
    h("h1", {}, t(titleKey), " · ", s.title || `#${s.id}`),
    h("p", { class: "note" }, `${fmtDateTime(s.starts_at)} – ${fmtDateTime(s.ends_at)} · ${t("status." + s.status)}`),
    sessionTabs(sessionId, here),
  );
  return s;
}

// ---------------------------------------------------------------- corrections and marks

export async function attendanceView(root, sessionId) {
  const panel = h("section", { class: "panel" });
  root.appendChild(panel);
  const session = await header(panel, sessionId, "attendance", "att.heading");
  const sites = new Map((await api.get("/sites", { limit: 500 })).items.map((s) => [s.id, s.name]));
  const filter = h("select", { id: "att-filter" }, ["", "absent", "present", "makeup", "pending"].map((v) => h("option", { value: v }, v ? t(`st.${v}`) : t("att.all"))));
  const search = h("input", { type: "search", id: "att-search", maxlength: "64" });
  const formBox = h("div", { id: "att-form" });
  const list = h("div", { id: "att-list" });
  const staffNo = h("input", { type: "text", id: "att-staff-no", maxlength: "32", class: "short" });
  let people = [];

  const draw = () => {
    const q = search.value.trim();
    const rows = people.filter((p) => (!filter.value || p.status === filter.value) && (!q || p.name.includes(q) || p.staff_no.includes(q)));
    clear(list).appendChild(
      h(
        "div",
        { class: "table-scroll" },
        table(
          [
            { label: t("att.name"), cell: (p) => h("a", { href: `#/trainees/${p.trainee_id}/transcript` }, p.name) },
            { label: t("tr.staffNo"), cell: (p) => p.staff_no },
            { label: t("att.unit"), cell: (p) => p.org_unit || "—" },
            { label: t("att.site"), cell: (p) => p.site || "—" },
            { label: t("att.status"), cell: (p) => statusTags(p) },
            { label: t("att.minutes"), cell: (p) => hours(p.attended_minutes), class: "num" },
            { label: t("att.hours"), cell: (p) => hours(p.class_hours), class: "num" },
            {
              label: t("att.actions"),
              cell: (p) =>
                h(
                  "span",
                  { class: "row-actions" },
                  session.status !== "scheduled" ? h("button", { type: "button", class: "small", "data-mark": String(p.trainee_id), onclick: () => markForm(p) }, t("att.mark")) : null,
                  h("button", { type: "button", class: "small secondary", "data-correct": String(p.trainee_id), onclick: () => correctForm(p) }, t("att.correct")),
                ),
            },
          ],
          rows,
          { caption: t("att.caption", { n: rows.length }), id: "att-table", class: "grid compact" },
        ),
      ),
    );
  };

  const load = async () => {
    try {
      people = (await api.get(`/sessions/${sessionId}/report`)).trainees;
      draw();
    } catch (err) {
      flashError(err);
    }
  };

  function statusTags(p) {
    const cls = { absent: "tag bad", present: "tag ok" }[p.status] || "tag";
    const key = `st.${p.status}`;
    return [
      h("span", { class: cls }, t(key) === key ? p.status : t(key)),
      p.late ? h("span", { class: "tag warn" }, t("tr.late")) : null,
      p.left_early ? h("span", { class: "tag warn" }, t("tr.leftEarly")) : null,
      p.kind === "manual" ? h("span", { class: "tag" }, t("tr.manual")) : null,
      p.corrected ? h("span", { class: "tag warn" }, t("tr.corrected")) : null,
    ];
  }

  function reasonField() {
    const reason = h("input", { type: "text", id: "att-reason", maxlength: "500", required: true });
    return [reason, field(t("att.reason"), reason, t("att.reasonHint"))];
  }

  function showForm(title, controls, submit) {
    const errors = h("p", { class: "error", role: "alert" });
    clear(formBox).appendChild(
      h(
        "form",
        {
          class: "inline-form",
          id: "att-inline",
          novalidate: true,
          onsubmit: async (ev) => {
            ev.preventDefault();
            errors.textContent = "";
            const reason = $("#att-reason").value.trim();
            if (!reason) {
              errors.textContent = t("att.needReason");
              return;
            }
            const button = ev.submitter;
            button.disabled = true;
            try {
              await submit(reason);
              clear(formBox);
              await load();
            } catch (err) {
              errors.textContent = errorText(err);
            } finally {
              button.disabled = false;
            }
          },
        },
        h("h2", {}, title),
        h("div", { class: "toolbar" }, controls),
        errors,
        h("div", { class: "row-actions" }, h("button", { type: "submit", class: "primary", id: "att-save" }, t("att.save")), h("button", { type: "button", onclick: () => clear(formBox) }, t("ui.cancel"))),
      ),
    );
    $("#att-reason").focus();
  }

  function markForm(p) {
    const [, reasonBox] = reasonField();
    const site = h("select", { id: "att-site" }, session.site_ids.map((id) => h("option", { value: String(id), selected: id === p.site_id }, sites.get(id) || `#${id}`)));
    showForm(t("att.markTitle", { name: p.name }), [reasonBox, field(t("att.site"), site)], async (reason) => {
      await api.post(`/sessions/${sessionId}/attendance/mark`, { trainee_id: p.trainee_id, reason, site_id: Number(site.value) });
      flash(t("att.marked", { name: p.name }), "ok");
    });
  }

  function correctForm(p) {
    const [, reasonBox] = reasonField();
    /** @returns {[HTMLInputElement, HTMLLabelElement]} a checkbox and its label */
    const box = (/** @type {string} */ id, /** @type {string} */ key, /** @type {boolean} */ checked) => {
      const input = h("input", { type: "checkbox", id, checked });
      return [input, h("label", { class: "check", for: id }, input, t(key))];
    };
    const [absent, absentLabel] = box("att-absent", "att.absentBox", p.status === "absent");
    const [late, lateLabel] = box("att-late", "att.lateBox", p.late);
    const [early, earlyLabel] = box("att-left-early", "att.leftEarlyBox", p.left_early);
    const classHours = h("input", { type: "number", id: "att-class-hours", min: "0", max: "100", step: "0.5", value: String(p.class_hours), class: "short" });
    const minutes = h("input", { type: "number", id: "att-minutes", min: "0", max: "1440", step: "1", value: String(Math.round(p.attended_minutes)), class: "short" });
    showForm(
      t("att.correctTitle", { name: p.name }),
      [reasonBox, absentLabel, lateLabel, earlyLabel, field(t("att.classHours"), classHours), field(t("att.attended"), minutes)],
      async (reason) => {
        const changes = {};
        if (absent.checked !== (p.status === "absent")) changes.absent = absent.checked;
        if (late.checked !== p.late) changes.late = late.checked;
        if (early.checked !== p.left_early) changes.left_early = early.checked;
        if (Number(classHours.value) !== p.class_hours) changes.class_hours = Number(classHours.value);
        if (Number(minutes.value) !== Math.round(p.attended_minutes)) changes.attended_minutes = Number(minutes.value);
        await api.post(`/sessions/${sessionId}/attendance/correct`, { trainee_id: p.trainee_id, reason, changes });
        flash(t("att.corrected", { name: p.name }), "ok");
      },
    );
  }

  async function markByStaffNo(ev) {
    ev.preventDefault();
    const no = staffNo.value.trim();
    if (!no) return;
    await act(ev.submitter, async () => {
      const found = (await api.get("/trainees", { q: no, limit: 50 })).items.find((x) => x.staff_no === no);
      if (!found) {
        flash(t("att.notFound", { no }), "error");
        return;
      }
      markForm({ trainee_id: found.id, name: found.name, site_id: found.home_site_id });
    });
  }

  filter.addEventListener("change", draw);
  search.addEventListener("input", draw);
  panel.append(
    h("p", { class: "note" }, t("att.intro")),
    h(
      "div",
      { class: "toolbar no-print" },
      field(t("att.filter"), filter),
      field(t("att.search"), search),
      session.status !== "scheduled"
        ? h("form", { class: "toolbar", onsubmit: markByStaffNo }, field(t("att.byStaffNo"), staffNo), h("button", { type: "submit" }, t("att.find")))
        : null,
      h("a", { class: "btn secondary", href: "#/audit" }, t("att.audit")),
      printButton(),
    ),
    formBox,
    list,
  );
  await load();
  return null;
}

// ---------------------------------------------------------------- electives

export async function electivesView(root, sessionId) {
  const panel = h("section", { class: "panel" });
  root.appendChild(panel);
  await header(panel, sessionId, "electives", "el.heading");
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
  await header(panel, sessionId, "feedback", "fb.heading");
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
