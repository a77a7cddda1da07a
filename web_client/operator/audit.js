// @ts-check
// #/audit: the audit trail, read: who did what to what, when and why; filters by actor, action,
// entity and day (the server's configured time zone, shared/time.js); newest first, 50 a page; what changed shown as before -> after.
import { h, clear } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { field, flashError, fmtDateTime, table } from "./ui.js";
import { pager, panelSection, printButton } from "./panel.js";

addMessages({
  zh: {
    "nav.audit": "审计日志",
    "audit.heading": "审计日志",
    "audit.intro": "系统中每一次修改的记录：谁、在什么时间、做了什么、原因。",
    "audit.actor": "操作人",
    "audit.actorHint": "用户名、学员或课堂名的一部分，或 trainee:5",
    "audit.action": "操作",
    "audit.entity": "对象",
    "audit.since": "从（日期）",
    "audit.until": "到（日期）",
    "audit.all": "全部",
    "audit.search": "查询",
    "audit.reset": "清除条件",
    "audit.at": "时间",
    "audit.what": "内容",
    "audit.reason": "原因",
    "audit.changes": "变更",
    "audit.caption": "共 {n} 条记录",
    "audit.session": "课次 #{id}",
    "audit.trainee": "学员 #{id}",
    "audit.named": "{what}「{name}」#{id}",
    "audit.namedValue": "{name}（#{id}）",
    "audit.moved": "{who}：{from} → {to}",
    "audit.cadre": "{name}（工号 {no}）",
    "audit.act.create": "新建",
    "audit.act.update": "修改",
    "audit.act.delete": "删除",
    "audit.act.start": "开始（课次或点名）",
    "audit.act.start.sessions": "开始课次",
    "audit.act.end": "结束课次",
    "audit.act.correct": "更正考勤",
    "audit.act.mark_present": "补签",
    "audit.act.issue_join_code": "发放个人码",
    "audit.act.issue_join_codes": "批量发放个人码",
    "audit.act.issue_secret": "发放课堂密钥",
    "audit.act.import": "导入名单",
    "audit.act.publish": "发布分批计划",
    "audit.act.settings": "修改课次设置",
    "audit.act.start.roll_calls": "发起点名",
    "audit.act.broadcast_start": "开始直播",
    "audit.act.broadcast_stop": "停止直播",
    "audit.act.plan": "生成分批计划",
    "audit.act.move": "调整学员批次",
    "audit.act.swap": "互换学员批次",
    "audit.act.create_admin": "创建管理员（命令行）",
    "audit.act.reset_password": "重设密码（命令行）",
    "audit.act.prune": "清理旧录像（命令行）",
    "audit.act.ask": "提出申请",
    "audit.act.withdraw": "撤回申请",
    "audit.act.submit": "提交",
    "audit.act.attach": "上传附件",
    "audit.act.upload": "上传资料",
    "audit.act.mark": "批阅",
    "audit.act.issue": "颁发证书",
    "audit.act.revoke": "撤销证书",
    "audit.ent.sessions": "课次",
    "audit.ent.trainees": "学员",
    "audit.ent.sites": "课堂",
    "audit.ent.org-units": "单位",
    "audit.ent.users": "用户",
    "audit.ent.courses": "课程",
    "audit.ent.units": "专题单元",
    "audit.ent.programs": "培训项目",
    "audit.ent.attendance": "考勤记录",
    "audit.ent.session_result": "课次结果",
    "audit.ent.batch_plans": "分批计划",
    "audit.ent.roll_calls": "点名",
    "audit.ent.recordings": "录像",
    "audit.ent.leave_request": "请假申请",
    "audit.ent.writeup": "学用成果",
    "audit.ent.reading": "研读材料",
    "audit.ent.certificate": "结业证书",
    "audit.ent.program_settings": "培训项目设置（结业要求、请假上限）",
    "audit.ent.unit_contacts": "单位联系人",
    "audit.ent.selfstudy_courses": "自学课程",
    "audit.field.status": "状态",
    "audit.field.title": "标题",
    "audit.field.name": "名称",
    "audit.field.code": "编号",
    "audit.field.revoked": "已撤销",
    "audit.field.reason": "原因",
    "audit.field.starts_at": "开始时间",
    "audit.field.ends_at": "结束时间",
    "audit.field.started_at": "实际开始",
    "audit.field.ended_at": "实际结束",
    "audit.field.source": "画面来源",
    "audit.field.site_id": "课堂",
    "audit.field.sites": "课堂",
    "audit.field.seconds": "时限（秒）",
    "audit.field.record": "录制",
    "audit.field.recording_id": "录像",
    "audit.field.trainees": "学员数",
    "audit.field.issued": "发放数",
    "audit.field.everyone": "发给全体学员",
    "audit.field.only_missing": "只发给还没有个人码的学员",
    "audit.field.username": "用户名",
    "audit.field.role": "角色",
    "audit.field.active": "启用",
    "audit.field.email": "电子邮箱",
    "audit.field.phone": "电话",
    "audit.field.org_unit_id": "单位",
    "audit.field.course_id": "课程",
    "audit.field.program_id": "培训项目",
    "audit.field.parent_id": "上级",
    "audit.field.kind": "类型",
    "audit.field.outcome": "结果",
    "audit.field.minutes": "分钟数",
    "audit.field.present": "出勤",
    "audit.field.late": "迟到",
    "audit.field.has_join_code": "已有个人码",
    "audit.field.class_hours": "学时",
    "audit.field.secret_issued_at": "密钥发放时间",
    "audit.field.credits": "学分",
    "audit.field.attended_minutes": "在场分钟",
    "audit.field.left_early": "早退",
    "audit.field.makeup": "补课",
    "audit.field.absent": "缺勤",
    "audit.field.id": "编号",
    "audit.field.trainee_id": "学员",
    "audit.field.session_id": "课次",
    "audit.field.state": "状态",
    "audit.field.checked_in": "在场",
    "audit.field.first_in": "首次签到",
    "audit.field.last_out": "最后签退",
    "audit.field.stays": "在场时段",
    "audit.field.manual": "人工补签",
    "audit.field.closed": "已结束",
    "audit.field.by": "操作人",
    "audit.field.at": "时间",
    "audit.field.start": "开始",
    "audit.field.end": "结束",
    "audit.val.manual": "人工补签",
    "audit.val.closed": "已结束",
    "audit.val.open": "在场",
    "audit.val.in": "在场",
    "audit.val.out": "不在场",
    "audit.field.teaching_method": "教学方式",
    "audit.field.created_at": "创建时间",
    "audit.field.site_ids": "参加课堂",
    "audit.val.staff": "工作人员",
    "audit.val.scheduled": "未开始",
    "audit.val.live": "进行中",
    "audit.val.ended": "已结束",
    "audit.val.cancelled": "已取消",
    "audit.val.draft": "草稿",
    "audit.val.published": "已发布",
    "audit.val.present": "出勤",
    "audit.val.absent": "缺勤",
    "audit.val.late": "迟到",
    "audit.val.left_early": "早退",
    "audit.val.excused": "请假",
    "audit.val.main": "主课堂",
    "audit.val.site": "分课堂",
    "audit.val.recording": "录像",
    "audit.val.true": "是",
    "audit.val.false": "否",
    "audit.val.admin": "管理员",
    "audit.val.operator": "操作员",
    "audit.act.approve": "批准",
    "audit.act.refuse": "不批准",
    "audit.id.*": "全部{what}",
    "audit.id.bulk": "多名{what}",
    "audit.field.bytes": "大小（字节）",
    "audit.field.capacity": "容量（每场座位）",
    "audit.field.count": "数量",
    "audit.field.created": "新增",
    "audit.field.updated": "更新",
    "audit.field.renamed": "改名",
    "audit.field.row": "行",
    "audit.field.old_name": "原姓名",
    "audit.field.new_name": "新姓名",
    "audit.field.days": "天数",
    "audit.field.description": "说明",
    "audit.field.display_name": "显示名称",
    "audit.field.file": "文件",
    "audit.field.gender": "性别",
    "audit.field.has_secret": "已有课堂密钥",
    "audit.field.home_site_id": "所属课堂",
    "audit.field.is_leader": "是否领导",
    "audit.field.lecturer": "授课教师",
    "audit.field.on_duty_share": "在岗比例下限",
    "audit.field.org_unit_ids": "参加单位",
    "audit.field.position": "职务",
    "audit.field.seq": "顺序",
    "audit.field.staff_no": "工号",
    "audit.field.unit_id": "专题单元",
    "audit.field.use_site_capacity": "按课堂容量限制",
    "audit.field.user_ids": "联系人",
    "audit.field.year": "年度",
    "audit.val.moderator": "审核员",
    "audit.val.sub": "分课堂",
    "audit.val.requested": "待审批",
    "audit.val.approved": "已批准",
    "audit.val.refused": "未批准",
    "audit.val.withdrawn": "已撤回",
    "audit.val.superseded": "已作废",
    "audit.val.regular": "正常签到",
    "audit.val.makeup": "补课",
  },
  en: {
    "nav.audit": "Audit trail",
    "audit.heading": "Audit trail",
    "audit.intro": "Every change made in the system: who, when, what and why.",
    "audit.actor": "Who",
    "audit.actorHint": "part of a user, trainee or site name, or trainee:5",
    "audit.action": "Action",
    "audit.entity": "Object",
    "audit.since": "From (date)",
    "audit.until": "To (date)",
    "audit.all": "All",
    "audit.search": "Search",
    "audit.reset": "Clear filters",
    "audit.at": "When",
    "audit.what": "What",
    "audit.reason": "Why",
    "audit.changes": "Changes",
    "audit.caption": "{n} entries",
    "audit.session": "session #{id}",
    "audit.trainee": "trainee #{id}",
    "audit.named": "{what} “{name}” #{id}",
    "audit.namedValue": "{name} (#{id})",
    "audit.moved": "{who}: {from} → {to}",
    "audit.cadre": "{name} (staff no. {no})",
    "audit.act.create": "created",
    "audit.act.update": "changed",
    "audit.act.delete": "deleted",
    "audit.act.start": "started (session or roll call)",
    "audit.act.start.sessions": "session started",
    "audit.act.end": "session ended",
    "audit.act.correct": "attendance corrected",
    "audit.act.mark_present": "marked present",
    "audit.act.issue_join_code": "personal code issued",
    "audit.act.issue_join_codes": "personal codes issued in bulk",
    "audit.act.issue_secret": "site secret issued",
    "audit.act.import": "roster imported",
    "audit.act.publish": "batch plan published",
    "audit.act.settings": "session settings changed",
    "audit.act.start.roll_calls": "roll call started",
    "audit.act.broadcast_start": "broadcast started",
    "audit.act.broadcast_stop": "broadcast stopped",
    "audit.act.plan": "batch plan drafted",
    "audit.act.move": "trainee moved to another batch",
    "audit.act.swap": "two trainees' batches swapped",
    "audit.act.create_admin": "administrator created (command line)",
    "audit.act.reset_password": "password reset (command line)",
    "audit.act.prune": "old recordings pruned (command line)",
    "audit.act.ask": "requested",
    "audit.act.withdraw": "request withdrawn",
    "audit.act.submit": "submitted",
    "audit.act.attach": "attachment added",
    "audit.act.upload": "material uploaded",
    "audit.act.mark": "marked",
    "audit.act.issue": "certificate issued",
    "audit.act.revoke": "certificate revoked",
    "audit.ent.sessions": "session",
    "audit.ent.trainees": "trainee",
    "audit.ent.sites": "site",
    "audit.ent.org-units": "org unit",
    "audit.ent.users": "user",
    "audit.ent.courses": "course",
    "audit.ent.units": "thematic unit",
    "audit.ent.programs": "program",
    "audit.ent.attendance": "attendance record",
    "audit.ent.session_result": "session result",
    "audit.ent.batch_plans": "batch plan",
    "audit.ent.roll_calls": "roll call",
    "audit.ent.recordings": "recording",
    "audit.ent.leave_request": "leave request",
    "audit.ent.writeup": "write-up",
    "audit.ent.reading": "set reading",
    "audit.ent.certificate": "certificate",
    "audit.ent.program_settings": "program settings (completion, leave limit)",
    "audit.ent.unit_contacts": "unit contact",
    "audit.ent.selfstudy_courses": "self-study course",
    "audit.field.status": "status",
    "audit.field.title": "title",
    "audit.field.name": "name",
    "audit.field.code": "code",
    "audit.field.revoked": "revoked",
    "audit.field.reason": "reason",
    "audit.field.starts_at": "starts",
    "audit.field.ends_at": "ends",
    "audit.field.started_at": "started",
    "audit.field.ended_at": "ended",
    "audit.field.source": "picture source",
    "audit.field.site_id": "site",
    "audit.field.sites": "sites",
    "audit.field.seconds": "time limit (s)",
    "audit.field.record": "recorded",
    "audit.field.recording_id": "recording",
    "audit.field.trainees": "trainees",
    "audit.field.issued": "issued",
    "audit.field.everyone": "to every trainee",
    "audit.field.only_missing": "only to trainees without a code",
    "audit.field.username": "user name",
    "audit.field.role": "role",
    "audit.field.active": "active",
    "audit.field.email": "e-mail",
    "audit.field.phone": "phone",
    "audit.field.org_unit_id": "org unit",
    "audit.field.course_id": "course",
    "audit.field.program_id": "program",
    "audit.field.parent_id": "parent",
    "audit.field.kind": "kind",
    "audit.field.outcome": "outcome",
    "audit.field.minutes": "minutes",
    "audit.field.present": "present",
    "audit.field.late": "late",
    "audit.field.has_join_code": "has a personal code",
    "audit.field.class_hours": "class hours",
    "audit.field.secret_issued_at": "secret issued",
    "audit.field.credits": "credits",
    "audit.field.attended_minutes": "minutes attended",
    "audit.field.left_early": "left early",
    "audit.field.makeup": "make-up",
    "audit.field.absent": "absent",
    "audit.field.id": "record",
    "audit.field.trainee_id": "trainee",
    "audit.field.session_id": "session",
    "audit.field.state": "state",
    "audit.field.checked_in": "in the room",
    "audit.field.first_in": "first check-in",
    "audit.field.last_out": "last check-out",
    "audit.field.stays": "time in the room",
    "audit.field.manual": "manual check-in",
    "audit.field.closed": "closed",
    "audit.field.by": "by",
    "audit.field.at": "at",
    "audit.field.start": "from",
    "audit.field.end": "to",
    "audit.val.manual": "manual check-in",
    "audit.val.closed": "closed",
    "audit.val.open": "in the room",
    "audit.val.in": "in the room",
    "audit.val.out": "not in the room",
    "audit.field.teaching_method": "teaching method",
    "audit.field.created_at": "created",
    "audit.field.site_ids": "sites",
    "audit.val.staff": "staff",
    "audit.val.scheduled": "scheduled",
    "audit.val.live": "live",
    "audit.val.ended": "ended",
    "audit.val.cancelled": "cancelled",
    "audit.val.draft": "draft",
    "audit.val.published": "published",
    "audit.val.present": "present",
    "audit.val.absent": "absent",
    "audit.val.late": "late",
    "audit.val.left_early": "left early",
    "audit.val.excused": "excused",
    "audit.val.main": "main classroom",
    "audit.val.site": "site",
    "audit.val.recording": "recording",
    "audit.val.true": "yes",
    "audit.val.false": "no",
    "audit.val.admin": "administrator",
    "audit.val.operator": "operator",
    "audit.act.approve": "approved",
    "audit.act.refuse": "refused",
    "audit.id.*": "all {what}s",
    "audit.id.bulk": "several {what}s",
    "audit.field.bytes": "size (bytes)",
    "audit.field.capacity": "capacity (seats per batch)",
    "audit.field.count": "count",
    "audit.field.created": "added",
    "audit.field.updated": "updated",
    "audit.field.renamed": "renamed",
    "audit.field.row": "row",
    "audit.field.old_name": "old name",
    "audit.field.new_name": "new name",
    "audit.field.days": "days",
    "audit.field.description": "description",
    "audit.field.display_name": "display name",
    "audit.field.file": "file",
    "audit.field.gender": "gender",
    "audit.field.has_secret": "has a site secret",
    "audit.field.home_site_id": "home site",
    "audit.field.is_leader": "leader",
    "audit.field.lecturer": "lecturer",
    "audit.field.on_duty_share": "least on-duty share",
    "audit.field.org_unit_ids": "org units",
    "audit.field.position": "position",
    "audit.field.seq": "order",
    "audit.field.staff_no": "staff number",
    "audit.field.unit_id": "thematic unit",
    "audit.field.use_site_capacity": "respect site capacity",
    "audit.field.user_ids": "contacts",
    "audit.field.year": "year",
    "audit.val.moderator": "moderator",
    "audit.val.sub": "sub-classroom",
    "audit.val.requested": "requested",
    "audit.val.approved": "approved",
    "audit.val.refused": "refused",
    "audit.val.withdrawn": "withdrawn",
    "audit.val.superseded": "superseded",
    "audit.val.regular": "regular check-in",
    "audit.val.makeup": "make-up",
  },
});

const known = (prefix, value) => (t(`${prefix}.${value}`) === `${prefix}.${value}` ? value : t(`${prefix}.${value}`));
/** An action's label; ``start`` of a roll call reads differently from a session's. */
export const actionText = (a, entity) => (entity && t(`audit.act.${a}.${entity}`) !== `audit.act.${a}.${entity}` ? t(`audit.act.${a}.${entity}`) : known("audit.act", a));
const fieldText = (f) => known("audit.field", f);
const entityText = (e) => known("audit.ent", e);

/**
 * A record by the name people know, its number after it; by its number alone when it has no name.
 * @param {string} label what it is (课次, 学员 ...)
 * @param {string|undefined|null} name
 * @param {string} id
 */
const named = (label, name, id) => {
  if (name) return t("audit.named", { what: label, name, id });
  const many = t(`audit.id.${id}`, { what: label }); // "*" (the whole roster), "bulk"
  return many === `audit.id.${id}` ? `${label} ${id}` : many;
};

// A session result is keyed "<session>/<trainee>": name both.
function what(e) {
  const [session, trainee] = e.entity === "session_result" ? e.entity_id.split("/") : [];
  const names = e.named || {};
  if (trainee) {
    const sessionName = (names.session_id || {})[session];
    const traineeName = (names.trainee_id || {})[trainee];
    return h(
      "span",
      {},
      `${entityText(e.entity)} · `,
      h("a", { href: `#/sessions/${session}/attendance` }, sessionName ? named(t("audit.ent.sessions"), sessionName, session) : t("audit.session", { id: session })),
      " · ",
      h("a", { href: `#/trainees/${trainee}/transcript` }, traineeName ? named(t("audit.ent.trainees"), traineeName, trainee) : t("audit.trainee", { id: trainee })),
    );
  }
  return named(entityText(e.entity), e.entity_name, e.entity_id);
}

/**
 * A changed field's value; an id (or ids) the server named reads as the name and its number.
 * @param {any} e the entry
 * @param {string} key
 * @param {any} v
 */
function showField(e, key, v) {
  const names = (e.named || {})[key];
  if (!names || v === null || v === undefined) return show(v);
  const one = (/** @type {any} */ x) => (names[String(x)] ? t("audit.namedValue", { name: names[String(x)], id: x }) : show(x));
  return Array.isArray(v) ? v.map(one).join("、") : one(v);
}

function show(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (Array.isArray(v) && !v.length) return "—";
  if (Array.isArray(v)) return v.map(show).join(v.some((x) => x && typeof x === "object") ? "；" : "、");
  // A nested record (a stay, a manual check-in): its fields in words, never raw JSON.
  if (typeof v === "object") {
    if ("start" in v && "end" in v && !("reason" in v)) return `${show(v.start)} – ${show(v.end)}${v.source ? `（${show(v.source)}）` : ""}`;
    return Object.entries(v)
      .filter(([k]) => k !== "start" && k !== "end")
      .map(([k, x]) => `${fieldText(k)} ${k === "by" ? String(x).split(":").pop() : show(x)}`)
      .join("，");
  }
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) return fmtDateTime(v);
  const word = known("audit.val", String(v));
  return word === String(v) ? known("enum", word) : word; // a teaching method, a site kind ...
}

/**
 * A batch of a plan as the plan page names it (第N批 · its title), or the session's number when
 * it no longer exists.
 * @param {{session_id: number, title: string|null, batch: number|null} | null} b
 */
function batchText(b) {
  if (!b) return "—";
  if (!b.batch) return b.title ? t("audit.namedValue", { name: b.title, id: b.session_id }) : t("audit.session", { id: b.session_id });
  return b.title ? `${t("plan.batchN", { n: b.batch })} · ${b.title}` : t("plan.batchN", { n: b.batch });
}

/** A batch plan's move or swap: who (name and staff number) went from which batch to which. */
function moves(e) {
  return h(
    "ul",
    { class: "changes" },
    e.moves.map((m) => {
      const who = m.name ? (m.staff_no ? t("audit.cadre", { name: m.name, no: m.staff_no }) : m.name) : t("audit.trainee", { id: m.trainee_id });
      return h("li", {}, t("audit.moved", { who, from: batchText(m.from), to: batchText(m.to) }));
    }),
  );
}

/** before -> after, one line a field that changed (or every field of a creation). */
function changes(e) {
  if (e.moves && e.moves.length) return moves(e);
  const { before, after } = e;
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  const lines = keys
    .filter((k) => JSON.stringify((before || {})[k]) !== JSON.stringify((after || {})[k]))
    .slice(0, 12)
    .map((k) => h("li", {}, `${fieldText(k)}: ${showField(e, k, (before || {})[k])} → ${showField(e, k, (after || {})[k])}`));
  return lines.length ? h("ul", { class: "changes" }, lines) : "—";
}

export async function auditView(root) {
  const facets = await api.get("/audit/facets");
  const actor = h("input", { type: "search", id: "audit-actor", maxlength: "100" });
  const action = h("select", { id: "audit-action" }, h("option", { value: "" }, t("audit.all")), facets.actions.map((a) => h("option", { value: a }, actionText(a))));
  const entity = h("select", { id: "audit-entity" }, h("option", { value: "" }, t("audit.all")), facets.entities.map((e) => h("option", { value: e }, entityText(e))));
  const since = h("input", { type: "date", id: "audit-since" });
  const until = h("input", { type: "date", id: "audit-until" });
  const out = h("div", { id: "audit-list" });
  let offset = 0;

  async function load(at = 0) {
    offset = at;
    try {
      const page = await api.get("/audit", {
        actor: actor.value.trim(),
        action: action.value,
        entity: entity.value,
        since: since.value,
        until: until.value,
        limit: 50,
        offset,
      });
      clear(out).append(
        h(
          "div",
          { class: "table-scroll" },
          table(
            [
              { label: t("audit.at"), cell: (e) => fmtDateTime(e.at) },
              { label: t("audit.actor"), cell: (e) => h("span", { title: e.actor }, e.actor_name) },
              { label: t("audit.action"), cell: (e) => actionText(e.action, e.entity) },
              { label: t("audit.what"), cell: (e) => what(e) },
              { label: t("audit.reason"), cell: (e) => e.reason || "—" },
              { label: t("audit.changes"), cell: (e) => changes(e) },
            ],
            page.items,
            { caption: t("audit.caption", { n: page.total }), id: "audit-table", class: "grid compact" },
          ),
        ),
        pager(page, load),
      );
    } catch (err) {
      flashError(err);
    }
  }

  root.appendChild(
    panelSection(
      t("audit.heading"),
      h("p", { class: "note" }, t("audit.intro")),
      h(
        "form",
        {
          class: "toolbar no-print",
          id: "audit-filters",
          onsubmit: (ev) => {
            ev.preventDefault();
            load(0);
          },
        },
        field(t("audit.actor"), actor, t("audit.actorHint")),
        field(t("audit.action"), action),
        field(t("audit.entity"), entity),
        field(t("audit.since"), since),
        field(t("audit.until"), until),
        h("button", { type: "submit", class: "primary" }, t("audit.search")),
        h(
          "button",
          {
            type: "button",
            onclick: () => {
              for (const c of [actor, action, entity, since, until]) c.value = "";
              load(0);
            },
          },
          t("audit.reset"),
        ),
        printButton(),
      ),
      out,
    ),
  );
  await load(0);
  return null;
}
