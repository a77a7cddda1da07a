// @ts-check
// Batch planning: a table of org units × batches (sessions) with size, leaders and on-duty
// share, every broken rule highlighted; run the planner, move or swap trainees by hand (the
// server re-checks every rule and refuses a change that would break one), publish.
import { h, clear } from "/static/shared/dom.js";
import { t, getLang, addMessages } from "/static/shared/i18n.js";
import { api, ApiError, errorText } from "/static/shared/api.js";
import { act, field, flash, flashError, fmtDateTime } from "./ui.js";
import { names, panelSection } from "./panel.js";

addMessages({
  zh: {
    "ruleText.all_placed": "{trainees} 没有安排批次。",
    "ruleText.availability": "{trainees} 无法参加{batches}。",
    "ruleText.balanced_sizes": "{unit}各批次人数相差超过 1 人（{batches}）。",
    "ruleText.leaders_apart": "{unit}的领导 {trainees} 都在{batches}，应分在不同批次。",
    "ruleText.on_duty_share": "{unit}同一时间参训人数过多（{batches}），留岗人数不足。",
    "ruleText.site_capacity": "{site}在{batches}的人数超出课堂容量。",
    "ruleText.keep_apart": "{trainees} 应分在不同批次，现在都在{batches}。",
    "ruleText.other": "{unit} {batches} 违反分批规则。",
    "infeasible.lead": "排不出分批计划：",
    "infeasible.availability": "{trainees}（{unit}）所有场次都不能参加，请空出一个场次或增加场次。",
    "infeasible.leaders_apart.many": "{unit}有 {n} 名领导（{trainees}），但本课程只有 {k} 个批次；每位领导须各带一批，请增加场次或减少领导。",
    "infeasible.leaders_apart.slots": "{unit}的领导 {trainees} 只能参加{batches}，不够每人各带一批，请空出场次或增加场次。",
    "infeasible.leaders_apart": "{unit}的领导 {trainees} 无法在各批人数均衡、避开不能参加的场次的同时各带一批，请空出场次或增加场次。",
    "infeasible.balanced_sizes": "{unit}有学员不能参加部分场次，无法分成人数相差不超过 1 人的批次{at}，请空出场次或增加场次。",
    "infeasible.on_duty_share": "{unit}无论怎样均衡分批，同一时间参训的人数都太多{at}，留岗人数达不到在岗比例 {share}%。请增加场次、避免场次时间重叠或降低在岗比例。",
    "infeasible.site_capacity": "{site}座位不够：{unit}在该课堂的学员多于{batches}的座位，请提高课堂容量、增加场次或把学员调到其他课堂。",
    "infeasible.keep_apart": "{trainees}（{unit}）须分在不同批次，但场次不够{at}，请取消部分“分开”要求或增加场次。",
    "infeasible.other": "{unit}{at}违反分批规则。",
    "infeasible.at": "（{batches}）",
    "infeasible.unproven": "（未能穷尽所有排法，可能仍有可行方案。）",
  },
  en: {
    "ruleText.all_placed": "{trainees}: no batch.",
    "ruleText.availability": "{trainees} cannot attend {batches}.",
    "ruleText.balanced_sizes": "{unit}: batch sizes differ by more than one ({batches}).",
    "ruleText.leaders_apart": "{unit}: leaders {trainees} are all in {batches}; split them.",
    "ruleText.on_duty_share": "{unit}: too many in class at once ({batches}); too few left on duty.",
    "ruleText.site_capacity": "{site}: more trainees than seats in {batches}.",
    "ruleText.keep_apart": "{trainees} must be in different batches but are both in {batches}.",
    "ruleText.other": "{unit} {batches} breaks a batch rule.",
    "infeasible.lead": "No batch plan possible:",
    "infeasible.availability": "{trainees} ({unit}) cannot attend any session; free one of the sessions or add one.",
    "infeasible.leaders_apart.many": "{unit} has {n} leaders ({trainees}) but the course has only {k} batches; each leader must lead a different batch. Add sessions or designate fewer leaders.",
    "infeasible.leaders_apart.slots": "{unit}: leaders {trainees} can only attend {batches}, too few for each to lead a different batch. Free or add sessions.",
    "infeasible.leaders_apart": "{unit}: leaders {trainees} cannot each lead a different batch while batches stay balanced and unavailable sessions are respected. Free or add sessions.",
    "infeasible.balanced_sizes": "{unit}: some cadres cannot attend some sessions, so no batches differ by at most one{at}. Free or add sessions.",
    "infeasible.on_duty_share": "{unit}: however the batches are balanced, too many are in class at once{at} to keep {share}% on duty. Add sessions, stop sessions overlapping or lower the share.",
    "infeasible.site_capacity": "{site} has too few seats: its trainees from {unit} outnumber the seats in {batches}. Raise its capacity, add a session or move trainees to another site.",
    "infeasible.keep_apart": "{trainees} ({unit}) must be in different batches but there are too few sessions{at}. Drop a keep-apart pair or add a session.",
    "infeasible.other": "{unit}{at} breaks a batch rule.",
    "infeasible.at": " ({batches})",
    "infeasible.unproven": " (not every arrangement was tried; a plan may still exist.)",
  },
});

async function allTrainees() {
  const out = [];
  for (let offset = 0; offset < 20000; offset += 500) {
    const page = await api.get("/trainees", { limit: 500, offset });
    out.push(...page.items);
    if (out.length >= page.total || !page.items.length) break;
  }
  return out;
}

export async function planView(root, courseId) {
  const courseSel = h("select", { id: "plan-course" });
  const body = h("div", { id: "plan-body" });
  root.appendChild(panelSection(t("plan.heading"), h("div", { class: "toolbar" }, field(t("plan.course"), courseSel)), body));
  try {
    const courses = await api.get("/courses", { limit: 500 });
    courseSel.appendChild(h("option", { value: "" }, t("plan.pickCourse")));
    for (const c of courses.items) courseSel.appendChild(h("option", { value: String(c.id), selected: c.id === courseId }, c.title));
  } catch (err) {
    flashError(err);
  }
  courseSel.addEventListener("change", () => {
    if (courseSel.value) window.location.hash = `#/plan/${courseSel.value}`;
  });
  if (!courseId) return null;

  /** @type {{plan: any, trainees: Map<number, any>, sites: Map<number, any>, refused: {message: string, details: any} | null, infeasible: string | null}} */
  const st = { plan: null, trainees: new Map(), sites: new Map(), refused: null, infeasible: null };

  // A broken rule in the reader's language, with names (the server's message is English, ids).
  function ruleVars(v, plan) {
    const batchOf = new Map(plan.sessions.map((s, i) => [String(s.id), t("plan.batchN", { n: i + 1 })]));
    const unitOf = new Map(plan.units.map((u) => [String(u.unit_id), u.name]));
    const list = (items) => items.join(getLang() === "zh" ? "、" : ", ");
    return {
      unit: list((v.unit_ids || []).map((id) => unitOf.get(String(id)) || `#${id}`)),
      batches: list((v.slot_ids || []).map((id) => batchOf.get(String(id)) || `#${id}`)),
      trainees: list((v.trainee_ids || []).map((id) => (st.trainees.get(Number(id)) || {}).name || `#${id}`)),
      site: v.site_id ? st.sites.get(Number(v.site_id)) || `#${v.site_id}` : "",
    };
  }
  function ruleText(v, plan) {
    const vars = ruleVars(v, plan);
    const key = `ruleText.${v.rule}`;
    return t(key) === key ? t("ruleText.other", vars) : t(key, vars);
  }
  // Why the planner refused, in the reader's language, from the error's rule and ids (the
  // server's message is English with ids); batches are numbered as in a plan, by start time.
  async function infeasibleText(v) {
    let sessions = [];
    let units = new Map();
    try {
      sessions = (await api.get("/sessions", { course_id: courseId, limit: 500 })).items;
      units = await names("org-units");
    } catch {
      // names fall back to ids below
    }
    sessions.sort((a, b) => String(a.starts_at).localeCompare(String(b.starts_at)) || a.id - b.id);
    const pseudo = { sessions, units: [...units.entries()].map(([id, label]) => ({ unit_id: id, name: label })) };
    const vars = ruleVars(v, pseudo);
    const n = (v.trainee_ids || []).length;
    const at = vars.batches ? t("infeasible.at", vars) : "";
    const all = { ...vars, n, k: sessions.length, at, share: Math.round(Number(share.value) * 100) };
    let key = `infeasible.${v.rule}`;
    if (v.rule === "leaders_apart") {
      if (vars.batches) key = "infeasible.leaders_apart.slots";
      else if (sessions.length && n > sessions.length) key = "infeasible.leaders_apart.many";
    }
    const text = t(key) === key ? t("infeasible.other", all) : t(key, all);
    return `${t("infeasible.lead")} ${text}${v.proven === false ? t("infeasible.unproven") : ""}`;
  }

  try {
    for (const tr of await allTrainees()) st.trainees.set(tr.id, tr);
    st.sites = await names("sites");
  } catch (err) {
    flashError(err);
  }

  const share = h("input", { type: "number", min: "0", max: "1", step: "0.05", value: "0.5", id: "plan-share", class: "short" });
  const capacity = h("input", { type: "checkbox", id: "plan-capacity", checked: true });
  const controls = h(
    "form",
    {
      class: "toolbar",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const btn = ev.submitter;
        if (btn) btn.disabled = true;
        try {
          st.plan = await api.post(`/courses/${courseId}/batch-plan`, { on_duty_share: Number(share.value), use_site_capacity: capacity.checked });
          st.refused = null;
          st.infeasible = null;
          render();
          flash(t("plan.planned"), "ok");
        } catch (err) {
          if (err instanceof ApiError && err.code === "batch.infeasible" && err.details && err.details.rule) {
            st.infeasible = await infeasibleText(err.details);
            render();
            flash(st.infeasible, "error");
          } else {
            flashError(err);
          }
        } finally {
          if (btn) btn.disabled = false;
        }
      },
    },
    field(t("plan.share"), share, t("plan.shareHint")),
    h("label", { for: "plan-capacity", class: "check" }, capacity, " ", t("plan.capacity")),
    h("button", { type: "submit", class: "primary", id: "plan-run" }, t("plan.run")),
    h(
      "button",
      {
        type: "button",
        id: "plan-publish",
        onclick: (ev) =>
          act(ev.currentTarget, async () => {
            st.plan = await api.post(`/courses/${courseId}/batch-plan/publish`);
            render();
          }, t("plan.published")),
      },
      t("plan.publish"),
    ),
  );
  const view = h("div", {});
  body.append(controls, view);

  function name(id) {
    const tr = st.trainees.get(Number(id));
    return tr ? tr.name : `#${id}`;
  }

  function render() {
    clear(view);
    if (st.infeasible) view.appendChild(h("p", { class: "error", id: "plan-infeasible", role: "alert" }, st.infeasible));
    const plan = st.plan;
    if (!plan) {
      view.appendChild(h("p", { class: "note" }, t("plan.none")));
      return;
    }
    const broken = new Set();
    for (const v of plan.violations || []) {
      const slots = v.slot_ids && v.slot_ids.length ? v.slot_ids : plan.sessions.map((s) => String(s.id));
      for (const u of v.unit_ids || []) for (const s of slots) broken.add(`${u}:${s}`);
    }
    const refusedCells = new Set();
    if (st.refused && st.refused.details) {
      for (const u of st.refused.details.unit_ids || []) for (const s of st.refused.details.slot_ids || []) refusedCells.add(`${u}:${s}`);
    }
    const members = new Map(); // "unit:session" -> [trainee]
    for (const a of plan.assignments) {
      const tr = st.trainees.get(a.trainee_id);
      const key = `${tr ? tr.org_unit_id : "?"}:${a.session_id}`;
      if (!members.has(key)) members.set(key, []);
      members.get(key).push(tr || { id: a.trainee_id, name: `#${a.trainee_id}` });
    }
    const where = new Map(plan.assignments.map((a) => [a.trainee_id, a.session_id]));
    view.append(
      h(
        "p",
        {},
        h("span", { class: `badge ${plan.status === "published" ? "st-live" : "st-scheduled"}`, id: "plan-status" }, t("plan.status." + plan.status)),
        " ",
        t("plan.meta", { created: fmtDateTime(plan.created_at), share: Math.round(100 * (plan.rules?.on_duty_share ?? 0)) }),
      ),
      plan.violations && plan.violations.length
        ? h("div", { class: "violations", role: "alert" }, h("h2", {}, t("plan.violations", { n: plan.violations.length })), h("ul", {}, plan.violations.map((v) => h("li", {}, `[${t("rule." + v.rule)}] ${ruleText(v, plan)}`))))
        : h("p", { class: "ok-note", id: "plan-ok" }, t("plan.allRulesKept")),
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "grid plan-table", id: "plan-table" },
          h("caption", {}, t("plan.caption")),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, t("plan.unit")),
              plan.sessions.map((s) => h("th", { scope: "col" }, s.title || `#${s.id}`, h("br"), h("small", {}, `${fmtDateTime(s.starts_at)} · ${t("plan.size", { n: s.size })}`))),
            ),
          ),
          h(
            "tbody",
            {},
            plan.units.map((u) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, u.name, h("br"), h("small", { class: "note" }, t("plan.unitMeta", { size: u.size, max: u.max_in_class ?? "—" }))),
                plan.sessions.map((s) => {
                  const b = u.batches.find((x) => x.session_id === s.id) || { size: 0, leaders: [], on_duty_share: 0 };
                  const key = `${u.unit_id}:${s.id}`;
                  const people = members.get(key) || [];
                  return h(
                    "td",
                    {
                      class: [broken.has(key) ? "violation" : "", refusedCells.has(key) ? "refused" : ""],
                      "data-unit": String(u.unit_id),
                      "data-session": String(s.id),
                      "data-violation": broken.has(key) ? "true" : null,
                    },
                    h("div", { class: "cell-size" }, t("plan.cellSize", { n: b.size })),
                    h("div", {}, t("plan.leaders"), " ", b.leaders.length ? b.leaders.map((l) => h("span", { class: "chip leader" }, l.name)) : "—"),
                    h("div", {}, t("plan.onDuty", { pct: Math.round(100 * (b.on_duty_share || 0)) })),
                    people.length
                      ? h("details", {}, h("summary", {}, t("plan.members", { n: people.length })), h("div", {}, people.map((p) => h("span", { class: ["chip", p.is_leader ? "leader" : ""] }, p.name))))
                      : null,
                  );
                }),
              ),
            ),
          ),
        ),
      ),
      moveForm(plan, where),
    );
  }

  function traineeSelect(id, where, plan) {
    const titles = new Map(plan.sessions.map((s, i) => [s.id, t("plan.batchN", { n: i + 1 })]));
    return h(
      "select",
      { id },
      [...where.entries()]
        .sort((a, b) => name(a[0]).localeCompare(name(b[0]), "zh"))
        .map(([tid, sid]) => h("option", { value: String(tid) }, `${name(tid)} (${titles.get(sid) || sid})`)),
    );
  }

  function moveForm(plan, where) {
    const who = traineeSelect("move-trainee", where, plan);
    const to = h("select", { id: "move-to" }, plan.sessions.map((s, i) => h("option", { value: String(s.id) }, `${t("plan.batchN", { n: i + 1 })} · ${s.title}`)));
    const a = traineeSelect("swap-a", where, plan);
    const b = traineeSelect("swap-b", where, plan);
    const result = h("div", { id: "move-result", role: "status", "aria-live": "polite", tabindex: "-1" });
    if (st.refused) result.appendChild(h("p", { class: "error" }, `${t("plan.refused")} ${ruleText(st.refused.details, plan)}`));
    const change = async (btn, path, bodyObj, okKey) => {
      try {
        btn.disabled = true;
        st.plan = await api.post(`/courses/${courseId}/batch-plan/${path}`, bodyObj);
        st.refused = null;
        render();
        flash(t(okKey), "ok");
      } catch (err) {
        if (err instanceof ApiError && err.details && err.details.rule) {
          st.refused = { message: err.message, details: err.details };
          render();
          const again = document.getElementById("move-result");
          if (again) again.focus();
        } else {
          flash(errorText(err), "error");
        }
      } finally {
        btn.disabled = false;
      }
    };
    return h(
      "div",
      { class: "cols" },
      h(
        "form",
        {
          class: "panel",
          onsubmit: (ev) => {
            ev.preventDefault();
            change(ev.submitter, "move", { trainee_id: Number(who.value), session_id: Number(to.value) }, "plan.moved");
          },
        },
        h("h2", {}, t("plan.move")),
        field(t("plan.trainee"), who),
        field(t("plan.toBatch"), to),
        h("button", { type: "submit", id: "move-submit" }, t("plan.moveBtn")),
      ),
      h(
        "form",
        {
          class: "panel",
          onsubmit: (ev) => {
            ev.preventDefault();
            change(ev.submitter, "swap", { trainee_a: Number(a.value), trainee_b: Number(b.value) }, "plan.swapped");
          },
        },
        h("h2", {}, t("plan.swap")),
        field(t("plan.traineeA"), a),
        field(t("plan.traineeB"), b),
        h("button", { type: "submit", id: "swap-submit" }, t("plan.swapBtn")),
      ),
      result,
    );
  }

  try {
    const plan = await api.get(`/courses/${courseId}/batch-plan`);
    st.plan = plan.status === "none" ? null : plan; // no plan yet: run the planner
  } catch (err) {
    flashError(err);
  }
  render();
  return null;
}
