// @ts-check
// Between the live days, the training office's side (issue 17.2–17.5):
//   #/leave         leave approvals (请假审批) with each trainee's share before/after vs the
//                   program's limit (1/7); unit contacts see their units' requests only
//   #/completion    a program's completion rules, who completed and what others miss,
//                   certificates, write-up marking (学用成果), set reading, the to-do export
import { h, clear } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api, downloadUrl } from "/static/shared/api.js";
import { act, field, flash, flashError, fmtDateTime, table } from "./ui.js";

addMessages({
  zh: {
    "nav.leave": "请假审批",
    "nav.completion": "结业与证书",
    "lv.heading": "请假审批",
    "lv.intro": "培训办可审批所有学员的请假；单位联络员只能审批本单位学员。请假占比超过项目上限（默认 1/7）的学员会被标出，“批准后”一栏显示若批准待审批申请后的占比。",
    "lv.state": "状态",
    "lv.state.requested": "待审批",
    "lv.state.approved": "已批准",
    "lv.state.refused": "未批准",
    "lv.state.withdrawn": "已撤回",
    "lv.state.all": "全部",
    "lv.trainee": "学员",
    "lv.unit": "单位",
    "lv.program": "培训项目",
    "lv.sessions": "请假场次",
    "lv.reason": "事由",
    "lv.before": "当前占比",
    "lv.after": "批准后占比",
    "lv.over": "已超上限",
    "lv.wouldPass": "批准后将超上限",
    "lv.note": "审批意见",
    "lv.approve": "批准",
    "lv.refuse": "不批准",
    "lv.approved": "已批准。",
    "lv.refused": "已不批准。",
    "lv.caption": "请假申请（{n} 条）",
    "lv.notYours": "非本单位",
    "lv.contacts": "单位联络员",
    "lv.contactsIntro": "单位联络员可以审批本单位学员的请假。",
    "lv.contactsNow": "当前联络员：{names}",
    "lv.contactsUsers": "联络员（可多选）",
    "lv.contactsSave": "保存联络员",
    "lv.contactsSaved": "联络员已保存。",
    "cp.heading": "结业与证书",
    "cp.program": "培训项目",
    "cp.rules": "结业要求",
    "cp.minHours": "最少学时",
    "cp.countSelfStudy": "自学学时计入",
    "cp.share": "最低出勤比例（0–1）",
    "cp.quiz": "测验及格线（%）",
    "cp.writeup": "需提交学用成果",
    "cp.leaveLimit": "请假上限（分子/分母）",
    "cp.save": "保存要求",
    "cp.saved": "结业要求已保存。",
    "cp.summary": "已结业 {done} / {total} 人",
    "cp.completed": "已结业",
    "cp.notCompleted": "未结业",
    "cp.hours": "学时",
    "cp.attendance": "出勤",
    "cp.quizScore": "测验",
    "cp.missing": "未达要求",
    "cp.missing.hours": "学时 {has}/{needed}",
    "cp.missing.attendance": "出勤 {has}/{needed}",
    "cp.missing.quiz": "测验 {has}/{needed}",
    "cp.missing.writeup": "学用成果未通过",
    "cp.missing.leave": "请假超上限",
    "cp.certificate": "证书",
    "cp.issue": "为已结业学员颁发证书",
    "cp.issued": "已颁发 {n} 份证书。",
    "cp.pdf": "下载",
    "cp.export": "导出未完成事项（按单位，Excel）",
    "cp.writeups": "学用成果评阅",
    "cp.writeupsNone": "还没有提交的学用成果。",
    "cp.accept": "通过",
    "cp.revise": "退回修改",
    "cp.comment": "评语",
    "cp.attachment": "附件",
    "cp.marked": "已评阅。",
    "cp.readings": "研读书目",
    "cp.readingTitle": "书名 / 资料名",
    "cp.readingAuthor": "作者",
    "cp.readingLink": "链接（可选）",
    "cp.readingAdd": "添加书目",
    "cp.readingAdded": "书目已添加。",
    "wu.state.submitted": "待评阅",
    "wu.state.accepted": "已通过",
    "wu.state.needs_revision": "退回修改",
    "report.leave": "请假",
    "report.leaveTitle": "请假人员",
  },
  en: {
    "nav.leave": "Leave",
    "nav.completion": "Completion",
    "lv.heading": "Leave requests",
    "lv.intro": "The training office decides every trainee's leave; a unit contact only their unit's. Trainees whose leave passes the program's limit (1/7 by default) are flagged; 'after' shows the share if the pending requests were approved.",
    "lv.state": "State",
    "lv.state.requested": "Waiting",
    "lv.state.approved": "Approved",
    "lv.state.refused": "Refused",
    "lv.state.withdrawn": "Withdrawn",
    "lv.state.all": "All",
    "lv.trainee": "Trainee",
    "lv.unit": "Unit",
    "lv.program": "Program",
    "lv.sessions": "Sessions",
    "lv.reason": "Reason",
    "lv.before": "Share now",
    "lv.after": "Share after",
    "lv.over": "over the limit",
    "lv.wouldPass": "would pass the limit",
    "lv.note": "Note",
    "lv.approve": "Approve",
    "lv.refuse": "Refuse",
    "lv.approved": "Approved.",
    "lv.refused": "Refused.",
    "lv.caption": "Leave requests ({n})",
    "lv.notYours": "other unit",
    "lv.contacts": "Unit contacts",
    "lv.contactsIntro": "A unit's contacts decide the leave of its trainees.",
    "lv.contactsNow": "Contacts now: {names}",
    "lv.contactsUsers": "Contacts (choose several)",
    "lv.contactsSave": "Save contacts",
    "lv.contactsSaved": "Contacts saved.",
    "cp.heading": "Completion and certificates",
    "cp.program": "Program",
    "cp.rules": "What completion needs",
    "cp.minHours": "Minimum class hours",
    "cp.countSelfStudy": "Self-study hours count",
    "cp.share": "Minimum attendance share (0–1)",
    "cp.quiz": "Quiz pass mark (%)",
    "cp.writeup": "Accepted write-up needed",
    "cp.leaveLimit": "Leave limit (numerator/denominator)",
    "cp.save": "Save",
    "cp.saved": "Completion rules saved.",
    "cp.summary": "{done} of {total} completed",
    "cp.completed": "Completed",
    "cp.notCompleted": "Not completed",
    "cp.hours": "Hours",
    "cp.attendance": "Attendance",
    "cp.quizScore": "Quiz",
    "cp.missing": "Missing",
    "cp.missing.hours": "hours {has}/{needed}",
    "cp.missing.attendance": "attendance {has}/{needed}",
    "cp.missing.quiz": "quiz {has}/{needed}",
    "cp.missing.writeup": "write-up not accepted",
    "cp.missing.leave": "leave over the limit",
    "cp.certificate": "Certificate",
    "cp.issue": "Issue certificates to those who completed",
    "cp.issued": "{n} certificates issued.",
    "cp.pdf": "Download",
    "cp.export": "Export what is not done (per unit, Excel)",
    "cp.writeups": "Write-ups to mark",
    "cp.writeupsNone": "No write-up submitted yet.",
    "cp.accept": "Accept",
    "cp.revise": "Return for revision",
    "cp.comment": "Comment",
    "cp.attachment": "Attachment",
    "cp.marked": "Marked.",
    "cp.readings": "Set reading",
    "cp.readingTitle": "Title",
    "cp.readingAuthor": "Author",
    "cp.readingLink": "Link (optional)",
    "cp.readingAdd": "Add",
    "cp.readingAdded": "Reading added.",
    "wu.state.submitted": "To mark",
    "wu.state.accepted": "Accepted",
    "wu.state.needs_revision": "Returned",
    "report.leave": "On leave",
    "report.leaveTitle": "On leave",
  },
});

/** @param {number} share */
const percent = (share) => `${Math.round(share * 1000) / 10}%`;

/** @param {HTMLElement} root @param {string} actor who signs in (admin, operator, moderator) */
export async function leaveView(root, actor = "operator") {
  const state = h("select", { id: "lv-state" }, ["requested", "approved", "refused", "all"].map((s) => h("option", { value: s }, t(`lv.state.${s}`))));
  const out = h("div", { id: "leave-requests" });
  const load = async () => {
    try {
      const list = await api.get("/leave", { state: /** @type {HTMLSelectElement} */ (state).value });
      clear(out).appendChild(
        table(
          [
            { label: t("lv.trainee"), cell: (r) => `${r.trainee.name}（${r.trainee.staff_no}）` },
            { label: t("lv.unit"), cell: (r) => r.org_unit.name },
            { label: t("lv.program"), cell: (r) => r.program },
            { label: t("lv.sessions"), cell: (r) => r.sessions.map((s) => `${s.title} ${fmtDateTime(s.starts_at)}`).join("；") },
            { label: t("lv.reason"), cell: (r) => r.reason },
            { label: t("lv.before"), cell: (r) => shareCell(r.standing, false), class: "num" },
            { label: t("lv.after"), cell: (r) => shareCell(r.standing, true), class: "num" },
            { label: t("lv.state"), cell: (r) => h("span", { class: `tag leave-${r.state}` }, t(`lv.state.${r.state}`)) },
            { label: "", cell: (r) => decideCell(r, load) },
          ],
          list.items,
          { caption: t("lv.caption", { n: list.items.length }), id: "leave-table" },
        ),
      );
    } catch (err) {
      flashError(err);
    }
  };
  state.addEventListener("change", load);
  root.appendChild(h("section", { class: "panel" }, h("h2", {}, t("lv.heading")), h("p", { class: "note" }, t("lv.intro")), field(t("lv.state"), state), out));
  if (actor === "admin" || actor === "operator") root.appendChild(await contactsPanel(actor === "admin"));
  await load();
  return null;
}

/** Who decides a unit's leave besides the office: its contacts (联络员). Operators see them;
 * admins, who may list the users, also name them. @param {boolean} admin */
async function contactsPanel(admin) {
  const units = (await api.get("/org-units", { limit: 500 })).items || [];
  const users = admin ? (await api.get("/users", { limit: 500 })).items || [] : [];
  const unit = h("select", { id: "lv-contact-unit" }, units.map((u) => h("option", { value: String(u.id) }, u.name)));
  const who = h("select", { id: "lv-contact-users", multiple: true, size: "4" }, users.map((u) => h("option", { value: String(u.id) }, `${u.display_name || u.username}（${u.username}）`)));
  const current = h("p", { id: "lv-contacts" });
  const unitId = () => /** @type {HTMLSelectElement} */ (unit).value;
  const show = async () => {
    if (!unitId()) return;
    const found = await api.get(`/org-units/${unitId()}/contacts`);
    current.textContent = t("lv.contactsNow", { names: found.items.map((/** @type {any} */ u) => u.display_name || u.username).join("、") || "—" });
    const chosen = new Set(found.items.map((/** @type {any} */ u) => String(u.id)));
    for (const option of /** @type {HTMLSelectElement} */ (who).options) option.selected = chosen.has(option.value);
  };
  unit.addEventListener("change", () => show().catch(flashError));
  const save = h("button", { type: "button", id: "lv-contacts-save" }, t("lv.contactsSave"));
  save.addEventListener("click", async () => {
    const ids = Array.from(/** @type {HTMLSelectElement} */ (who).selectedOptions, (o) => Number(o.value));
    if (await act(/** @type {HTMLButtonElement} */ (save), () => api.put(`/org-units/${unitId()}/contacts`, { user_ids: ids }), t("lv.contactsSaved"))) await show();
  });
  await show().catch(flashError);
  return h(
    "section",
    { class: "panel", id: "lv-contacts-panel" },
    h("h2", {}, t("lv.contacts")),
    h("p", { class: "note" }, t("lv.contactsIntro")),
    field(t("lv.unit"), unit),
    current,
    admin ? [field(t("lv.contactsUsers"), who), save] : null,
  );
}

/** @param {any} standing @param {boolean} after */
function shareCell(standing, after) {
  if (!standing) return "—";
  const share = after ? standing.share_after : standing.share_before;
  const over = after ? standing.over_after : standing.over_before;
  const flag = over ? h("span", { class: "tag bad leave-flag" }, after && !standing.over_before ? t("lv.wouldPass") : t("lv.over")) : null;
  return h("span", {}, percent(share), " ", flag);
}

/** @param {any} r @param {() => Promise<void>} reload */
function decideCell(r, reload) {
  if (r.state !== "requested") return r.note || "";
  if (!r.may_decide) return t("lv.notYours");
  const note = h("input", { type: "text", maxlength: "500", "aria-label": t("lv.note"), placeholder: t("lv.note"), class: "short" });
  /** @param {string} decision @param {string} ok */
  const decide = (decision, ok) => async (/** @type {Event} */ ev) => {
    const done = await act(/** @type {HTMLButtonElement} */ (ev.currentTarget), () => api.post(`/leave/${r.id}/decide`, { decision, note: /** @type {HTMLInputElement} */ (note).value }), t(ok));
    if (done) await reload();
  };
  return h("div", { class: "row" }, note, h("button", { type: "button", class: "primary", onclick: decide("approve", "lv.approved") }, t("lv.approve")), h("button", { type: "button", onclick: decide("refuse", "lv.refused") }, t("lv.refuse")));
}

/** @param {HTMLElement} root @param {number|null} programId */
export async function completionView(root, programId) {
  const programs = await api.get("/programs", { limit: 200 });
  const items = programs.items || [];
  const chosen = programId || (items.length ? items[items.length - 1].id : null);
  const picker = h(
    "select",
    { id: "cp-program", onchange: (/** @type {Event} */ ev) => (window.location.hash = `#/completion/${/** @type {HTMLSelectElement} */ (ev.target).value}`) },
    items.map((p) => h("option", { value: String(p.id), selected: p.id === chosen }, p.name)),
  );
  root.appendChild(h("section", { class: "panel" }, h("h2", {}, t("cp.heading")), field(t("cp.program"), picker)));
  if (!chosen) return null;
  const out = h("div", { id: "completion" });
  root.appendChild(out);
  const load = async () => {
    try {
      const [done, writeups, readings] = await Promise.all([
        api.get(`/programs/${chosen}/completion`),
        api.get(`/programs/${chosen}/writeups`),
        api.get(`/programs/${chosen}/readings`),
      ]);
      clear(out).append(rulesPanel(chosen, done.rules, load), listPanel(chosen, done, load), writeupPanel(writeups.items, load), readingPanel(chosen, readings.items, load));
    } catch (err) {
      flashError(err);
    }
  };
  await load();
  return null;
}

/** @param {number} programId @param {any} rules @param {() => Promise<void>} reload */
function rulesPanel(programId, rules, reload) {
  const [num, den] = String(rules.leave_limit).split("/");
  const minHours = h("input", { type: "number", min: "0", step: "0.5", value: rules.min_hours ?? "", class: "short", id: "cp-min-hours" });
  const selfStudy = h("input", { type: "checkbox", checked: rules.count_self_study, id: "cp-self-study" });
  const share = h("input", { type: "number", min: "0.01", max: "1", step: "0.05", value: rules.min_attendance_share ?? "", class: "short", id: "cp-share" });
  const quiz = h("input", { type: "number", min: "1", max: "100", value: rules.quiz_pass_mark ?? "", class: "short", id: "cp-quiz" });
  const writeup = h("input", { type: "checkbox", checked: rules.writeup_required, id: "cp-writeup" });
  const limitNum = h("input", { type: "number", min: "1", max: "100", value: num, class: "short", id: "cp-limit-num", "aria-label": t("cp.leaveLimit") });
  const limitDen = h("input", { type: "number", min: "1", max: "100", value: den, class: "short", id: "cp-limit-den", "aria-label": t("cp.leaveLimit") });
  /** @param {HTMLElement} el */
  const num0 = (el) => (/** @type {HTMLInputElement} */ (el).value === "" ? null : Number(/** @type {HTMLInputElement} */ (el).value));
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: async (/** @type {Event} */ ev) => {
        ev.preventDefault();
        const body = {
          min_hours: num0(minHours),
          count_self_study: /** @type {HTMLInputElement} */ (selfStudy).checked,
          min_attendance_share: num0(share),
          quiz_pass_mark: num0(quiz),
          writeup_required: /** @type {HTMLInputElement} */ (writeup).checked,
          leave_limit_num: Number(/** @type {HTMLInputElement} */ (limitNum).value),
          leave_limit_den: Number(/** @type {HTMLInputElement} */ (limitDen).value),
        };
        if (await act(null, () => api.put(`/programs/${programId}/completion-rules`, body), t("cp.saved"))) await reload();
      },
    },
    field(t("cp.minHours"), minHours),
    field(t("cp.share"), share),
    field(t("cp.quiz"), quiz),
    h("div", { class: "field" }, h("label", { class: "inline" }, selfStudy, " ", t("cp.countSelfStudy")), h("label", { class: "inline" }, writeup, " ", t("cp.writeup"))),
    h("div", { class: "field" }, h("span", {}, t("cp.leaveLimit")), h("span", { class: "row" }, limitNum, "/", limitDen)),
    h("button", { type: "submit" }, t("cp.save")),
  );
  return h("section", { class: "panel", id: "cp-rules" }, h("h2", {}, t("cp.rules")), form);
}

/** @param {any} m */
function missingText(m) {
  const fmt = (/** @type {number} */ x) => String(Math.round(x * 100) / 100);
  return t(`cp.missing.${m.what}`, { has: fmt(m.has), needed: fmt(m.needed) });
}

/** @param {number} programId @param {any} done @param {() => Promise<void>} reload */
function listPanel(programId, done, reload) {
  const issue = h("button", { type: "button", class: "primary", id: "cp-issue" }, t("cp.issue"));
  issue.addEventListener("click", async () => {
    const result = await act(/** @type {HTMLButtonElement} */ (issue), () => api.post(`/programs/${programId}/certificates`));
    if (result) {
      await reload();
      flash(t("cp.issued", { n: result.issued }), "ok");
    }
  });
  return h(
    "section",
    { class: "panel", id: "cp-list" },
    h("h2", {}, done.program.name, " · ", t("cp.summary", { done: done.completed, total: done.total })),
    h("p", { class: "downloads" }, issue, h("a", { class: "btn secondary", id: "cp-export", href: downloadUrl(`/programs/${programId}/outstanding`, { format: "xlsx" }), download: "" }, t("cp.export"))),
    h(
      "div",
      { class: "table-scroll" },
      table(
        [
          { label: t("lv.trainee"), cell: (r) => `${r.name}（${r.staff_no}）` },
          { label: t("lv.unit"), cell: (r) => r.org_unit },
          { label: t("cp.hours"), cell: (r) => String(r.hours), class: "num" },
          { label: t("cp.attendance"), cell: (r) => percent(r.attendance_share), class: "num" },
          { label: t("cp.quizScore"), cell: (r) => (r.quiz_percent === null ? "—" : `${r.quiz_percent}%`), class: "num" },
          { label: "", cell: (r) => h("span", { class: r.completed ? "tag ok" : "tag" }, r.completed ? t("cp.completed") : t("cp.notCompleted")) },
          { label: t("cp.missing"), cell: (r) => r.missing.map(missingText).join("；") },
          { label: t("cp.certificate"), cell: (r) => (r.certificate ? h("a", { href: downloadUrl(`/certificates/${r.certificate.id}/pdf`), download: "" }, `${t("cp.pdf")} ${r.certificate.code}`) : "") },
        ],
        done.items,
        { id: "completion-table" },
      ),
    ),
  );
}

/** @param {any[]} items @param {() => Promise<void>} reload */
function writeupPanel(items, reload) {
  const rows = items.map((w) => {
    const comment = h("input", { type: "text", maxlength: "1000", "aria-label": t("cp.comment"), placeholder: t("cp.comment") });
    /** @param {string} how */
    const mark = (how) => async (/** @type {Event} */ ev) => {
      const ok = await act(/** @type {HTMLButtonElement} */ (ev.currentTarget), () => api.post(`/writeups/${w.id}/mark`, { mark: how, comment: /** @type {HTMLInputElement} */ (comment).value }), t("cp.marked"));
      if (ok) await reload();
    };
    return h(
      "li",
      { "data-state": w.state },
      h("div", { class: "row" }, h("strong", {}, `${w.trainee.name}（${w.org_unit}）`), h("span", { class: "tag" }, t(`wu.state.${w.state}`)), w.file_name ? h("a", { href: downloadUrl(`/writeups/${w.id}/file`), download: "" }, `${t("cp.attachment")}：${w.file_name}`) : null),
      h("p", { class: "writeup-text" }, w.text),
      w.comment ? h("p", { class: "note" }, `${t("cp.comment")}：${w.comment}`) : null,
      w.state === "submitted" ? h("div", { class: "row" }, comment, h("button", { type: "button", class: "primary", onclick: mark("accept") }, t("cp.accept")), h("button", { type: "button", onclick: mark("revise") }, t("cp.revise"))) : null,
    );
  });
  return h("section", { class: "panel", id: "cp-writeups" }, h("h2", {}, t("cp.writeups")), rows.length ? h("ul", { class: "list" }, rows) : h("p", { class: "note" }, t("cp.writeupsNone")));
}

/** @param {number} programId @param {any[]} items @param {() => Promise<void>} reload */
function readingPanel(programId, items, reload) {
  const title = h("input", { type: "text", maxlength: "200", required: true });
  const author = h("input", { type: "text", maxlength: "100" });
  const link = h("input", { type: "url", maxlength: "500" });
  const value = (/** @type {HTMLElement} */ el) => /** @type {HTMLInputElement} */ (el).value;
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: async (/** @type {Event} */ ev) => {
        ev.preventDefault();
        const body = { title: value(title), author: value(author), link: value(link) };
        if (await act(null, () => api.post(`/programs/${programId}/readings`, body), t("cp.readingAdded"))) await reload();
      },
    },
    field(t("cp.readingTitle"), title),
    field(t("cp.readingAuthor"), author),
    field(t("cp.readingLink"), link),
    h("button", { type: "submit" }, t("cp.readingAdd")),
  );
  return h(
    "section",
    { class: "panel", id: "cp-readings" },
    h("h2", {}, t("cp.readings")),
    h("ul", { class: "list" }, items.map((r) => h("li", {}, `《${r.title}》`, r.author ? ` ${r.author}` : "", r.link ? h("a", { href: r.link, target: "_blank", rel: "noopener noreferrer" }, ` ${r.link}`) : ""))),
    form,
  );
}
