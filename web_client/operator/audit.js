// #/audit: the audit trail, read: who did what to what, when and why; filters by actor, action,
// entity and day (the server's configured time zone, shared/time.js); newest first, 50 a page; what changed shown as before -> after.
import { h, clear } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { field, flashError, fmtDateTime, table } from "./ui.js";
import { pager, printButton } from "./panel.js";

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
    "audit.act.create": "新建",
    "audit.act.update": "修改",
    "audit.act.delete": "删除",
    "audit.act.start": "开始课次",
    "audit.act.end": "结束课次",
    "audit.act.correct": "更正考勤",
    "audit.act.mark_present": "补签",
    "audit.act.issue_join_code": "发放个人码",
    "audit.act.issue_join_codes": "批量发放个人码",
    "audit.act.issue_secret": "发放课堂密钥",
    "audit.act.import": "导入名单",
    "audit.act.publish": "发布分批计划",
    "audit.act.settings": "修改课次设置",
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
    "audit.act.create": "created",
    "audit.act.update": "changed",
    "audit.act.delete": "deleted",
    "audit.act.start": "session started",
    "audit.act.end": "session ended",
    "audit.act.correct": "attendance corrected",
    "audit.act.mark_present": "marked present",
    "audit.act.issue_join_code": "personal code issued",
    "audit.act.issue_join_codes": "personal codes issued in bulk",
    "audit.act.issue_secret": "site secret issued",
    "audit.act.import": "roster imported",
    "audit.act.publish": "batch plan published",
    "audit.act.settings": "session settings changed",
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
  },
});

const known = (prefix, value) => (t(`${prefix}.${value}`) === `${prefix}.${value}` ? value : t(`${prefix}.${value}`));
export const actionText = (a) => known("audit.act", a);
const entityText = (e) => known("audit.ent", e);

// A session result is keyed "<session>/<trainee>": name both.
function what(e) {
  const [session, trainee] = e.entity === "session_result" ? e.entity_id.split("/") : [];
  if (trainee) return h("span", {}, `${entityText(e.entity)} · `, h("a", { href: `#/sessions/${session}/attendance` }, t("audit.session", { id: session })), " · ", h("a", { href: `#/trainees/${trainee}/transcript` }, t("audit.trainee", { id: trainee })));
  return `${entityText(e.entity)} ${e.entity_id}`;
}

function show(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** before -> after, one line a field that changed (or every field of a creation). */
function changes(before, after) {
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])];
  const lines = keys
    .filter((k) => JSON.stringify((before || {})[k]) !== JSON.stringify((after || {})[k]))
    .slice(0, 12)
    .map((k) => h("li", {}, `${k}: ${show((before || {})[k])} → ${show((after || {})[k])}`));
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
              { label: t("audit.action"), cell: (e) => actionText(e.action) },
              { label: t("audit.what"), cell: (e) => what(e) },
              { label: t("audit.reason"), cell: (e) => e.reason || "—" },
              { label: t("audit.changes"), cell: (e) => changes(e.before, e.after) },
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
    h(
      "section",
      { class: "panel" },
      h("h1", {}, t("audit.heading")),
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
