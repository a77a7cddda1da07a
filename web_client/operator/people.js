// @ts-check
// A trainee's record and the honour list:
//   #/transcripts             find a trainee (name or staff no.) and open their transcript
//   #/trainees/<id>/transcript  one trainee's year: every session's result, class hours against
//                               the yearly requirement, corrections marked; printable
//   #/honour                  the year's honour list (学习标兵), most class hours first
import { h, clear } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { field, flashError, fmtDateTime, table } from "./ui.js";
import { hours, names, panelSection, printButton, reloadForm } from "./panel.js";
import { selfStudyTranscriptPart } from "./selfstudy.js";

addMessages({
  zh: {
    "nav.transcripts": "学时档案",
    "nav.honour": "学习标兵",
    "tr.heading": "学时档案",
    "tr.find": "姓名或工号",
    "tr.search": "查找",
    "tr.pick": "输入学员姓名或工号查找，然后打开其学时档案。",
    "tr.open": "查看档案",
    "tr.name": "姓名",
    "tr.staffNo": "工号",
    "tr.unit": "单位",
    "tr.of": "{name} 的学时档案",
    "tr.year": "年度",
    "tr.show": "显示",
    "tr.summary": "{year} 年已获 {hours} 学时 / 要求 {required} 学时（{percent}%），学分 {credits}",
    "tr.met": "已达到年度要求",
    "tr.remaining": "还差 {n} 学时",
    "tr.date": "日期",
    "tr.session": "课次",
    "tr.minutes": "在场分钟",
    "tr.hours": "学时",
    "tr.credits": "学分",
    "tr.result": "结果",
    "tr.caption": "{n} 个课次",
    "tr.absent": "缺勤",
    "tr.credited": "已计学时",
    "tr.pending": "进行中",
    "tr.late": "迟到",
    "tr.leftEarly": "早退",
    "tr.makeup": "补课",
    "tr.corrected": "已更正",
    "tr.manual": "补签",
    "hon.heading": "学习标兵",
    "hon.intro": "按年度学时从高到低排列；与最后一名并列的学员一并列入。",
    "hon.top": "名单人数",
    "hon.min": "最低学时",
    "hon.rank": "名次",
    "hon.hours": "年度学时",
    "hon.met": "达到 {n} 学时要求",
    "hon.caption": "{year} 年学习标兵（{n} 人）",
  },
  en: {
    "nav.transcripts": "Transcripts",
    "nav.honour": "Honour list",
    "tr.heading": "Transcripts",
    "tr.find": "Name or staff no.",
    "tr.search": "Find",
    "tr.pick": "Find a trainee by name or staff number, then open their transcript.",
    "tr.open": "Open transcript",
    "tr.name": "Name",
    "tr.staffNo": "Staff no.",
    "tr.unit": "Org unit",
    "tr.of": "Transcript of {name}",
    "tr.year": "Year",
    "tr.show": "Show",
    "tr.summary": "{year}: {hours} of {required} class hours ({percent}%), {credits} credits",
    "tr.met": "requirement met",
    "tr.remaining": "{n} hours to go",
    "tr.date": "Date",
    "tr.session": "Session",
    "tr.minutes": "Minutes present",
    "tr.hours": "Class hours",
    "tr.credits": "Credits",
    "tr.result": "Result",
    "tr.caption": "{n} sessions",
    "tr.absent": "absent",
    "tr.credited": "credited",
    "tr.pending": "in progress",
    "tr.late": "late",
    "tr.leftEarly": "left early",
    "tr.makeup": "make-up",
    "tr.corrected": "corrected",
    "tr.manual": "marked by staff",
    "hon.heading": "Honour list",
    "hon.intro": "Most class hours of the year first; anyone tied with the last place is listed too.",
    "hon.top": "How many",
    "hon.min": "At least (hours)",
    "hon.rank": "Rank",
    "hon.hours": "Class hours",
    "hon.met": "meets the {n}-hour requirement",
    "hon.caption": "{year} honour list ({n})",
  },
});

const thisYear = () => Number(new Date().toLocaleString("en-GB", { timeZone: "Asia/Shanghai", year: "numeric" }));

function resultTags(r) {
  const tags = [];
  if (r.final === false) tags.push(h("span", { class: "tag" }, t("tr.pending")));
  else if (r.absent) tags.push(h("span", { class: "tag bad" }, t("tr.absent")));
  else if (r.credited) tags.push(h("span", { class: "tag ok" }, t("tr.credited")));
  if (r.late) tags.push(h("span", { class: "tag warn" }, t("tr.late")));
  if (r.left_early) tags.push(h("span", { class: "tag warn" }, t("tr.leftEarly")));
  if (r.makeup) tags.push(h("span", { class: "tag" }, t("tr.makeup")));
  if (r.kind === "manual") tags.push(h("span", { class: "tag" }, t("tr.manual")));
  if (r.corrected) tags.push(h("span", { class: "tag warn" }, t("tr.corrected")));
  return tags;
}

export async function findTraineeView(root) {
  const query = h("input", { type: "search", id: "tr-query", maxlength: "64" });
  const out = h("div", { id: "tr-found" });
  const units = await names("org-units");
  const find = async (ev) => {
    if (ev) ev.preventDefault();
    const q = query.value.trim();
    if (!q) return;
    try {
      const page = await api.get("/trainees", { q, limit: 50 });
      clear(out).appendChild(
        table(
          [
            { label: t("tr.name"), cell: (p) => p.name },
            { label: t("tr.staffNo"), cell: (p) => p.staff_no },
            { label: t("tr.unit"), cell: (p) => units.get(p.org_unit_id) || "—" },
            { label: t("sessions.open"), cell: (p) => h("a", { class: "btn small", href: `#/trainees/${p.id}/transcript` }, t("tr.open")) },
          ],
          page.items,
          { id: "tr-results" },
        ),
      );
    } catch (err) {
      flashError(err);
    }
  };
  root.appendChild(
    panelSection(
      t("tr.heading"),
      h("p", { class: "note" }, t("tr.pick")),
      h("form", { class: "toolbar", onsubmit: find }, field(t("tr.find"), query), h("button", { type: "submit", class: "primary" }, t("tr.search"))),
      out,
    ),
  );
  query.focus();
  return null;
}

export async function transcriptView(root, traineeId) {
  const year = h("input", { type: "number", id: "tr-year", min: "2000", max: "2100", value: String(thisYear()), class: "short" });
  const out = h("div", { id: "transcript" });
  const units = await names("org-units");
  const load = async () => {
    try {
      const tr = await api.get(`/trainees/${traineeId}/transcript`, { year: year.value });
      const p = tr.progress;
      clear(out).append(
        h("h2", {}, t("tr.of", { name: tr.trainee.name }), " · ", tr.trainee.staff_no, " · ", units.get(tr.trainee.org_unit_id) || ""),
        h(
          "p",
          { id: "tr-summary" },
          t("tr.summary", { year: tr.year, hours: hours(p.class_hours), required: hours(p.required_hours), percent: hours(p.percent), credits: hours(p.credits) }),
          " · ",
          h("span", { class: p.met ? "tag ok" : "tag warn" }, p.met ? t("tr.met") : t("tr.remaining", { n: hours(p.remaining_hours) })),
        ),
        h("progress", { max: String(p.required_hours || 1), value: String(Math.min(p.class_hours, p.required_hours || 1)), "aria-label": t("tr.hours") }),
        table(
          [
            { label: t("tr.date"), cell: (r) => fmtDateTime(r.starts_at) },
            { label: t("tr.session"), cell: (r) => h("a", { href: `#/sessions/${r.session_id}/attendance` }, r.session_title || r.course_title) },
            { label: t("tr.minutes"), cell: (r) => hours(r.attended_minutes), class: "num" },
            { label: t("tr.hours"), cell: (r) => hours(r.class_hours), class: "num" },
            { label: t("tr.credits"), cell: (r) => hours(r.credits), class: "num" },
            { label: t("tr.result"), cell: (r) => resultTags(r) },
          ],
          tr.results,
          { caption: t("tr.caption", { n: tr.results.length }), id: "transcript-table" },
        ),
        selfStudyTranscriptPart(tr),
      );
    } catch (err) {
      flashError(err);
    }
  };
  root.appendChild(
    panelSection(
      t("tr.heading"),
      reloadForm(
        load,
        field(t("tr.year"), year),
        h("button", { type: "submit" }, t("tr.show")),
        h("a", { class: "btn secondary", href: "#/transcripts" }, t("tr.search")),
        printButton(),
      ),
      out,
    ),
  );
  await load();
  return null;
}

export async function honourView(root) {
  const year = h("input", { type: "number", id: "hon-year", min: "2000", max: "2100", value: String(thisYear()), class: "short" });
  const top = h("input", { type: "number", id: "hon-top", min: "1", max: "1000", value: "20", class: "short" });
  const min = h("input", { type: "number", id: "hon-min", min: "0", max: "10000", value: "0", class: "short" });
  const out = h("div", { id: "honour" });
  const units = await names("org-units");
  const load = async () => {
    try {
      const list = await api.get("/reports/honour-list", { year: year.value, top: top.value, min_hours: min.value });
      clear(out).appendChild(
        table(
          [
            { label: t("hon.rank"), cell: (e) => String(e.rank), class: "num" },
            { label: t("tr.name"), cell: (e) => h("a", { href: `#/trainees/${e.trainee_id}/transcript` }, e.name) },
            { label: t("tr.staffNo"), cell: (e) => e.staff_no },
            { label: t("tr.unit"), cell: (e) => units.get(e.org_unit_id) || "—" },
            { label: t("hon.hours"), cell: (e) => hours(e.class_hours), class: "num" },
            { label: "", cell: (e) => (e.class_hours >= list.required_hours ? h("span", { class: "tag ok" }, t("hon.met", { n: list.required_hours })) : "") },
          ],
          list.items,
          { caption: t("hon.caption", { year: list.year, n: list.items.length }), id: "honour-table" },
        ),
      );
    } catch (err) {
      flashError(err);
    }
  };
  root.appendChild(
    panelSection(
      t("hon.heading"),
      h("p", { class: "note" }, t("hon.intro")),
      reloadForm(
        load,
        field(t("tr.year"), year),
        field(t("hon.top"), top),
        field(t("hon.min"), min),
        h("button", { type: "submit" }, t("tr.show")),
        printButton(),
      ),
      out,
    ),
  );
  await load();
  return null;
}
