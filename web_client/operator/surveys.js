// @ts-check
// Needs surveys (需求调研) before a program:
//   #/surveys                   the programs; open one
//   #/programs/<id>/survey      set the topics trainees rank; read the ranked needs (Borda
//                               points, first choices, mentions), by org unit, and the free texts
import { h, clear } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api, ApiError } from "/static/shared/api.js";
import { act, field, flashError, table } from "./ui.js";
import { listAll } from "./manage.js";
import { names, printButton } from "./panel.js";

addMessages({
  zh: {
    "nav.surveys": "需求调研",
    "sv.heading": "需求调研",
    "sv.intro": "培训开始前请学员对拟设专题排序并填写需求；学员在手机页面作答，这里查看排序结果。",
    "sv.program": "培训项目",
    "sv.year": "年度",
    "sv.open": "设置与结果",
    "sv.of": "需求调研 · {name}",
    "sv.topics": "调研主题（每行一个）",
    "sv.topicsHint": "学员按重要程度对这些主题排序",
    "sv.save": "保存主题",
    "sv.saved": "调研主题已保存，学员手机上即可作答。",
    "sv.none": "这个项目还没有需求调研，请先填写主题并保存。",
    "sv.responses": "已有 {n} 名学员作答",
    "sv.rank": "名次",
    "sv.topic": "主题",
    "sv.points": "得分",
    "sv.first": "列为首选",
    "sv.mentions": "选择人数",
    "sv.ranked": "全体学员的需求排序",
    "sv.byUnit": "各单位的需求排序",
    "sv.texts": "学员填写的其他需求（{n} 条）",
  },
  en: {
    "nav.surveys": "Needs surveys",
    "sv.heading": "Needs surveys",
    "sv.intro": "Before a program, trainees rank the planned topics and describe their needs on their phones; read the ranking here.",
    "sv.program": "Program",
    "sv.year": "Year",
    "sv.open": "Set up and results",
    "sv.of": "Needs survey · {name}",
    "sv.topics": "Topics (one a line)",
    "sv.topicsHint": "Trainees rank these by importance",
    "sv.save": "Save topics",
    "sv.saved": "Topics saved; trainees can answer on their phones now.",
    "sv.none": "This program has no needs survey yet: write the topics and save.",
    "sv.responses": "Answers: {n}",
    "sv.rank": "Rank",
    "sv.topic": "Topic",
    "sv.points": "Points",
    "sv.first": "First choice",
    "sv.mentions": "Chosen by",
    "sv.ranked": "Needs of all trainees, ranked",
    "sv.byUnit": "Needs by org unit",
    "sv.texts": "Other needs written by trainees ({n})",
  },
});

function ranking(scores, id) {
  return table(
    [
      { label: t("sv.rank"), cell: (s) => String(s.i + 1), class: "num" },
      { label: t("sv.topic"), cell: (s) => s.topic },
      { label: t("sv.points"), cell: (s) => String(s.points), class: "num" },
      { label: t("sv.first"), cell: (s) => String(s.first_choices), class: "num" },
      { label: t("sv.mentions"), cell: (s) => String(s.mentions), class: "num" },
    ],
    scores.map((s, i) => ({ ...s, i })),
    { id },
  );
}

export async function surveysView(root) {
  const programs = await listAll("programs");
  root.appendChild(
    h(
      "section",
      { class: "panel" },
      h("h1", {}, t("sv.heading")),
      h("p", { class: "note" }, t("sv.intro")),
      table(
        [
          { label: t("sv.program"), cell: (p) => p.name },
          { label: t("sv.year"), cell: (p) => String(p.year), class: "num" },
          { label: t("sessions.open"), cell: (p) => h("a", { class: "btn small", href: `#/programs/${p.id}/survey` }, t("sv.open")) },
        ],
        programs,
        { id: "sv-programs" },
      ),
    ),
  );
  return null;
}

export async function surveyView(root, programId) {
  const program = await api.get(`/programs/${programId}`);
  const units = await names("org-units");
  let survey = null;
  try {
    survey = await api.get(`/programs/${programId}/needs-survey`);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "survey.not_found")) flashError(err);
  }
  const topics = h("textarea", { id: "sv-topics", rows: "6" });
  topics.value = survey ? survey.topics.join("\n") : "";
  const results = h("div", { id: "sv-results" });
  const draw = () => {
    clear(results);
    if (!survey) {
      results.appendChild(h("p", { class: "note" }, t("sv.none")));
      return;
    }
    results.append(
      h("p", { class: "stat-row", id: "sv-count" }, t("sv.responses", { n: survey.responses })),
      h("h2", {}, t("sv.ranked")),
      ranking(survey.ranked, "sv-ranked"),
      h("h2", {}, t("sv.byUnit")),
      ...Object.entries(survey.by_org_unit).map(([unit, scores]) =>
        h("details", { class: "op" }, h("summary", {}, units.get(Number(unit)) || `#${unit}`), ranking(scores, `sv-unit-${unit}`)),
      ),
      h("h2", {}, t("sv.texts", { n: survey.needs_texts.length })),
      h("ol", { class: "comments", id: "sv-texts" }, survey.needs_texts.map((x) => h("li", {}, x))),
    );
  };
  root.appendChild(
    h(
      "section",
      { class: "panel" },
      h("h1", {}, t("sv.of", { name: program.name })),
      h(
        "form",
        {
          class: "no-print",
          onsubmit: (ev) => {
            ev.preventDefault();
            const list = topics.value.split("\n").map((x) => x.trim()).filter(Boolean);
            act(ev.submitter, async () => {
              await api.put(`/programs/${programId}/needs-survey`, { topics: list });
              survey = await api.get(`/programs/${programId}/needs-survey`);
              draw();
            }, t("sv.saved"));
          },
        },
        field(t("sv.topics"), topics, t("sv.topicsHint")),
        h("div", { class: "row-actions" }, h("button", { type: "submit", class: "primary" }, t("sv.save")), printButton()),
      ),
      results,
    ),
  );
  draw();
  return null;
}
