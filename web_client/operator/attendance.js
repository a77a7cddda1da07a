// @ts-check
// One session's attendance corrections (#/sessions/<id>/attendance): mark present a trainee who
// could not check in, or correct a result (absent, late, left early, class hours); each with a
// reason, audited. A tab of the session's pages (panel.js sessionTabs).
import { h, clear, $ } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api, errorText } from "/static/shared/api.js";
import { act, field, flash, flashError, fmtTime, table } from "./ui.js";
import { hours, printButton, sessionHeader } from "./panel.js";

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
    "att.markWhole": "课次已结束：补签按整堂课计在场（{from}–{to}）；只在场一段时间的，请用“更正”。",
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
    "att.markWhole": "The session has ended: the mark counts them present for the whole session ({from}–{to}); for part of it, use Correct.",
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
  },
});

export async function attendanceView(root, sessionId) {
  const panel = h("section", { class: "panel" });
  root.appendChild(panel);
  const session = await sessionHeader(panel, sessionId, "attendance", "att.heading");
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
    // after the session the mark covers the session as it ran (server/core/checkin_sites.mark_span)
    const span =
      session.status === "ended"
        ? h("p", { class: "note", id: "att-mark-span" }, t("att.markWhole", { from: fmtTime(session.started_at || session.starts_at), to: fmtTime(session.ended_at || session.ends_at) }))
        : null;
    showForm(t("att.markTitle", { name: p.name }), [span, reasonBox, field(t("att.site"), site)], async (reason) => {
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
