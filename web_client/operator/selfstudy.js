// @ts-check
// #/selfstudy: self-study courses (自学课程). Create one from a finished recording or an
// uploaded WebM/MP4 with its class hours, window and the 在吗？ switch; list them; switch the
// check on or off. #/selfstudy/{id}: completion per org unit and per trainee, with Excel.
import { h, clear } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api, downloadUrl } from "/static/shared/api.js";
import { act, field, flash, fmtDateTime, table } from "./ui.js";
import { inputValue, isoFromInput } from "/static/shared/time.js";
import { listAll } from "./manage.js";
import { hours, panelSection } from "./panel.js";

addMessages({
  zh: {
    "nav.selfstudy": "自学课程",
    "ss.heading": "自学课程",
    "ss.intro": "把录像或视频文件（WebM、MP4）做成自学课程：学员在手机上观看，正常速度播放且页面在前台时才计时，同一时间只有一台设备计时。观看满 90% 计全部学时，不足 90% 按比例计（按半学时向下取整）。",
    "ss.new": "新建自学课程",
    "ss.title": "课程名称",
    "ss.unit": "专题单元",
    "ss.hours": "学时",
    "ss.opens": "开始学习时间",
    "ss.closes": "截止时间",
    "ss.check": "随机弹出“在吗？”确认（未确认的时段不计学时）",
    "ss.checkMin": "最短间隔（分钟观看）",
    "ss.checkMax": "最长间隔（分钟观看）",
    "ss.checkAnswer": "作答时限（秒）",
    "ss.source": "视频来源",
    "ss.fromRecording": "课次录像",
    "ss.fromUpload": "上传视频文件",
    "ss.session": "课次",
    "ss.recording": "录像",
    "ss.noRecording": "该课次没有已完成的录像",
    "ss.noSessions": "还没有已结束的课次，因此没有可用的录像；请上传视频文件。",
    "ss.file": "视频文件（WebM 或 MP4）",
    "ss.create": "创建课程",
    "ss.created": "自学课程已创建。",
    "ss.pickFile": "请选择视频文件。",
    "ss.pickRecording": "请选择录像。",
    "ss.list": "已有课程",
    "ss.none": "还没有自学课程。",
    "ss.window": "学习时间",
    "ss.duration": "时长",
    "ss.checkCol": "在吗？",
    "ss.on": "开",
    "ss.off": "关",
    "ss.toggle": "切换",
    "ss.completion": "完成情况",
    "ss.switched": "已更新“在吗？”设置。",
    "ss.minutes": "{n} 分钟",
    "ss.completionOf": "完成情况：{title}",
    "ss.byUnit": "按单位",
    "ss.byTrainee": "按学员",
    "ss.orgUnit": "单位",
    "ss.trainees": "应学人数",
    "ss.started": "已开始",
    "ss.completed": "已完成",
    "ss.rate": "完成率",
    "ss.hoursSum": "学时合计",
    "ss.name": "姓名",
    "ss.staffNo": "工号",
    "ss.watched": "观看（分钟）",
    "ss.share": "观看比例",
    "ss.credited": "学时",
    "ss.checks": "在吗？已答 / 超时",
    "ss.lastSeen": "最近观看",
    "ss.yes": "是",
    "ss.no": "否",
    "ss.xlsx": "下载 Excel",
    "ss.back": "返回课程列表",
  },
  en: {
    "nav.selfstudy": "Self-study",
    "ss.heading": "Self-study courses",
    "ss.intro": "Turn a recording or a video file (WebM, MP4) into a self-study course: trainees watch on their phones; time counts only while the page is visible and the video plays at normal speed, on one device at a time. 90% watched earns all the class hours; less earns the share (rounded down to half hours).",
    "ss.new": "New self-study course",
    "ss.title": "Title",
    "ss.unit": "Programme unit",
    "ss.hours": "Class hours",
    "ss.opens": "Opens",
    "ss.closes": "Closes",
    "ss.check": "Random \"Are you there?\" checks (time not confirmed is not counted)",
    "ss.checkMin": "Earliest (minutes of watching)",
    "ss.checkMax": "Latest (minutes of watching)",
    "ss.checkAnswer": "Time to answer (seconds)",
    "ss.source": "Video",
    "ss.fromRecording": "A session's recording",
    "ss.fromUpload": "Upload a video file",
    "ss.session": "Session",
    "ss.recording": "Recording",
    "ss.noRecording": "This session has no finished recording",
    "ss.noSessions": "No session has ended yet, so there is no recording to use: upload a video file.",
    "ss.file": "Video file (WebM or MP4)",
    "ss.create": "Create course",
    "ss.created": "The self-study course is created.",
    "ss.pickFile": "Choose a video file.",
    "ss.pickRecording": "Choose a recording.",
    "ss.list": "Courses",
    "ss.none": "No self-study course yet.",
    "ss.window": "Window",
    "ss.duration": "Length",
    "ss.checkCol": "Checks",
    "ss.on": "On",
    "ss.off": "Off",
    "ss.toggle": "Switch",
    "ss.completion": "Completion",
    "ss.switched": "The check setting is changed.",
    "ss.minutes": "{n} min",
    "ss.completionOf": "Completion: {title}",
    "ss.byUnit": "By org unit",
    "ss.byTrainee": "By trainee",
    "ss.orgUnit": "Org unit",
    "ss.trainees": "Trainees",
    "ss.started": "Started",
    "ss.completed": "Completed",
    "ss.rate": "Completion rate",
    "ss.hoursSum": "Class hours",
    "ss.name": "Name",
    "ss.staffNo": "Staff no.",
    "ss.watched": "Watched (min)",
    "ss.share": "Share watched",
    "ss.credited": "Class hours",
    "ss.checks": "Checks answered / missed",
    "ss.lastSeen": "Last watched",
    "ss.yes": "Yes",
    "ss.no": "No",
    "ss.xlsx": "Download Excel",
    "ss.back": "Back to the courses",
  },
});

/** @param {number} share */
function percent(share) {
  return `${Math.round(share * 1000) / 10}%`;
}

/** @param {HTMLElement} root */
export async function selfStudyView(root) {
  const [units, sessions] = await Promise.all([listAll("units"), listAll("sessions")]);
  const listBox = h("div", { id: "ss-courses", class: "ss-courses" });
  const now = new Date();
  const title = h("input", { type: "text", name: "title", maxlength: "200", required: true });
  const unit = h("select", { name: "unit_id" }, units.map((u) => h("option", { value: String(u.id) }, u.title)));
  const classHours = h("input", { type: "number", name: "class_hours", min: "0", max: "100", step: "0.5", value: "2" });
  const opens = h("input", { type: "datetime-local", name: "opens_at", value: inputValue(now) });
  const closes = h("input", { type: "datetime-local", name: "closes_at", value: inputValue(new Date(now.getTime() + 30 * 86400000)) });
  const check = h("input", { type: "checkbox", name: "presence_check", checked: true });
  const checkMin = h("input", { type: "number", name: "check_min", min: "0.1", step: "0.1", value: "5" });
  const checkMax = h("input", { type: "number", name: "check_max", min: "0.1", step: "0.1", value: "15" });
  const checkAnswer = h("input", { type: "number", name: "check_answer_s", min: "5", max: "600", value: "60" });
  // newest first: last month's lecture is the one usually turned into a course
  const ended = sessions.filter((s) => s.status === "ended").sort((a, b) => String(b.starts_at).localeCompare(String(a.starts_at)));
  // No session has run yet (a new install): no recording to pick, so the upload is chosen.
  const fromRec = h("input", { type: "radio", name: "source", value: "recording", checked: ended.length > 0 });
  const fromFile = h("input", { type: "radio", name: "source", value: "upload", checked: !ended.length });
  const noRecordings = ended.length ? null : h("p", { class: "note", id: "ss-no-recordings" }, t("ss.noSessions"));
  const session = h("select", { name: "session" }, ended.map((s) => h("option", { value: String(s.id) }, `${s.title || "#" + s.id} · ${fmtDateTime(s.starts_at)}`)));
  const recording = h("select", { name: "recording_id" });
  const file = h("input", { type: "file", name: "file", accept: "video/webm,video/mp4,.webm,.mp4" });
  const recBox = h("div", {}, field(t("ss.session"), session), field(t("ss.recording"), recording));
  const fileBox = h("div", { hidden: true }, field(t("ss.file"), file));
  const showSource = () => {
    recBox.hidden = !fromRec.checked;
    fileBox.hidden = !fromFile.checked;
  };
  fromRec.addEventListener("change", showSource);
  fromFile.addEventListener("change", showSource);
  showSource();
  const loadRecordings = async () => {
    clear(recording);
    if (!session.value) return;
    const found = await api.get(`/sessions/${session.value}/recordings`);
    const done = found.recordings.filter((/** @type {any} */ r) => r.status === "done");
    if (!done.length) recording.appendChild(h("option", { value: "" }, t("ss.noRecording")));
    for (const r of done) recording.appendChild(h("option", { value: String(r.id) }, `${fmtDateTime(r.started_at)} · ${t("ss.minutes", { n: hours(r.duration_s / 60) })}`));
  };
  session.addEventListener("change", () => loadRecordings().catch(() => {}));
  const submit = h("button", { type: "submit", class: "primary" }, t("ss.create"));
  const form = h(
    "form",
    {
      class: "panel-form",
      id: "ss-form",
      onsubmit: async (/** @type {SubmitEvent} */ ev) => {
        ev.preventDefault();
        const terms = {
          title: title.value.trim(),
          unit_id: Number(unit.value),
          class_hours: Number(classHours.value),
          opens_at: isoFromInput(opens.value),
          closes_at: isoFromInput(closes.value),
          presence_check: check.checked,
          check_min_s: Math.round(Number(checkMin.value) * 60),
          check_max_s: Math.round(Number(checkMax.value) * 60),
          check_answer_s: Number(checkAnswer.value),
        };
        if (fromFile.checked) {
          const chosen = file.files && file.files[0];
          if (!chosen) return flash(t("ss.pickFile"), "error");
          const data = new FormData();
          data.append("meta", JSON.stringify(terms));
          data.append("file", chosen);
          await act(submit, () => api.upload("/selfstudy/courses/upload", data), t("ss.created"));
        } else {
          if (!recording.value) return flash(t("ss.pickRecording"), "error");
          await act(submit, () => api.post("/selfstudy/courses", { ...terms, recording_id: Number(recording.value) }), t("ss.created"));
        }
        await loadList();
      },
    },
    h("h2", {}, t("ss.new")),
    field(t("ss.title"), title),
    field(t("ss.unit"), unit),
    field(t("ss.hours"), classHours),
    h("div", { class: "row" }, field(t("ss.opens"), opens), field(t("ss.closes"), closes)),
    h("label", { class: "inline" }, check, " ", t("ss.check")),
    h("div", { class: "row" }, field(t("ss.checkMin"), checkMin), field(t("ss.checkMax"), checkMax), field(t("ss.checkAnswer"), checkAnswer)),
    h("fieldset", {}, h("legend", {}, t("ss.source")), h("label", { class: "inline" }, fromRec, " ", t("ss.fromRecording")), " ", h("label", { class: "inline" }, fromFile, " ", t("ss.fromUpload"))),
    noRecordings,
    recBox,
    fileBox,
    submit,
  );

  async function loadList() {
    const found = await api.get("/selfstudy/courses");
    clear(listBox);
    listBox.appendChild(h("h2", {}, t("ss.list")));
    listBox.appendChild(
      table(
        [
          { label: t("ss.title"), cell: (/** @type {any} */ c) => h("a", { href: `#/selfstudy/${c.id}` }, c.title) },
          { label: t("ss.unit"), cell: (/** @type {any} */ c) => c.unit_title },
          { label: t("ss.hours"), class: "num", cell: (/** @type {any} */ c) => hours(c.class_hours) },
          { label: t("ss.window"), cell: (/** @type {any} */ c) => `${fmtDateTime(c.opens_at)} – ${fmtDateTime(c.closes_at)}` },
          { label: t("ss.duration"), class: "num", cell: (/** @type {any} */ c) => t("ss.minutes", { n: hours(c.duration_s / 60) }) },
          {
            label: t("ss.checkCol"),
            cell: (/** @type {any} */ c) => {
              const b = h("button", { type: "button", class: "small secondary" }, t("ss.toggle"));
              b.addEventListener("click", async () => {
                await act(b, () => api.patch(`/selfstudy/courses/${c.id}`, { presence_check: !c.presence_check }), t("ss.switched"));
                await loadList();
              });
              return h("span", {}, c.presence_check ? t("ss.on") : t("ss.off"), " ", b);
            },
          },
          { label: t("ss.completion"), cell: (/** @type {any} */ c) => h("a", { href: `#/selfstudy/${c.id}` }, t("ss.completion")) },
        ],
        found.items,
      ),
    );
  }

  root.appendChild(panelSection(t("ss.heading"), h("p", { class: "muted" }, t("ss.intro")), form, listBox));
  await Promise.all([loadRecordings().catch(() => {}), loadList()]);
}

/** @param {HTMLElement} root @param {number} courseId */
export async function selfStudyCompletionView(root, courseId) {
  const found = await api.get(`/selfstudy/courses/${courseId}/completion`);
  const c = found.course;
  root.appendChild(
    panelSection(
      t("ss.completionOf", { title: c.title }),
      h(
        "div",
        { class: "toolbar no-print" },
        h("a", { class: "btn secondary", href: "#/selfstudy" }, t("ss.back")),
        h("a", { class: "btn secondary", href: downloadUrl(`/selfstudy/courses/${courseId}/completion/export`, { format: "xlsx" }), download: "" }, t("ss.xlsx")),
      ),
      h("p", { class: "muted" }, `${hours(c.class_hours)} ${t("ss.hours")} · ${fmtDateTime(c.opens_at)} – ${fmtDateTime(c.closes_at)} · ${t("ss.checkCol")} ${c.presence_check ? t("ss.on") : t("ss.off")}`),
      h("h2", {}, t("ss.byUnit")),
      table(
        [
          { label: t("ss.orgUnit"), cell: (/** @type {any} */ u) => u.org_unit },
          { label: t("ss.trainees"), class: "num", cell: (/** @type {any} */ u) => u.trainees },
          { label: t("ss.started"), class: "num", cell: (/** @type {any} */ u) => u.started },
          { label: t("ss.completed"), class: "num", cell: (/** @type {any} */ u) => u.completed },
          { label: t("ss.rate"), class: "num", cell: (/** @type {any} */ u) => percent(u.completed_share) },
          { label: t("ss.hoursSum"), class: "num", cell: (/** @type {any} */ u) => hours(u.class_hours) },
        ],
        found.units,
        { id: "ss-units" },
      ),
      h("h2", {}, t("ss.byTrainee")),
      table(
        [
          { label: t("ss.orgUnit"), cell: (/** @type {any} */ p) => p.org_unit },
          { label: t("ss.staffNo"), cell: (/** @type {any} */ p) => p.staff_no },
          { label: t("ss.name"), cell: (/** @type {any} */ p) => p.name },
          { label: t("ss.watched"), class: "num", cell: (/** @type {any} */ p) => hours(p.watched_minutes) },
          { label: t("ss.share"), class: "num", cell: (/** @type {any} */ p) => percent(p.share) },
          { label: t("ss.credited"), class: "num", cell: (/** @type {any} */ p) => hours(p.class_hours) },
          { label: t("ss.completed"), cell: (/** @type {any} */ p) => (p.completed ? t("ss.yes") : t("ss.no")) },
          { label: t("ss.checks"), class: "num", cell: (/** @type {any} */ p) => `${p.checks_answered} / ${p.checks_missed}` },
          { label: t("ss.lastSeen"), cell: (/** @type {any} */ p) => (p.last_seen ? fmtDateTime(p.last_seen) : "—") },
        ],
        found.trainees,
        { id: "ss-trainees" },
      ),
    ),
  );
}

addMessages({
  zh: {
    "ss.split": "其中：现场学时 {live} · 自学学时 {self}{counted}",
    "ss.notCounted": "（自学学时不计入年度要求）",
    "ss.trHeading": "自学课程（{n} 门）",
    "ss.trValue": "课程学时",
  },
  en: {
    "ss.split": "Of which: live {live} h · self-study {self} h{counted}",
    "ss.notCounted": " (self-study does not count toward the year's requirement)",
    "ss.trHeading": "Self-study courses ({n})",
    "ss.trValue": "Course hours",
  },
});

/**
 * A transcript's self-study part: live and self-study hours apart, and each course.
 * @param {any} tr GET /trainees/{id}/transcript
 */
export function selfStudyTranscriptPart(tr) {
  const p = tr.progress;
  const courses = tr.selfstudy || [];
  return h(
    "div",
    { id: "tr-selfstudy" },
    h("p", { id: "tr-split" }, t("ss.split", { live: hours(p.live_hours), self: hours(p.selfstudy_hours), counted: p.counts_selfstudy ? "" : t("ss.notCounted") })),
    courses.length
      ? table(
          [
            { label: t("ss.opens"), cell: (/** @type {any} */ c) => fmtDateTime(c.opens_at) },
            { label: t("ss.title"), cell: (/** @type {any} */ c) => c.title },
            { label: t("ss.watched"), class: "num", cell: (/** @type {any} */ c) => hours(c.watched_minutes) },
            { label: t("ss.share"), class: "num", cell: (/** @type {any} */ c) => percent(c.share) },
            { label: t("ss.trValue"), class: "num", cell: (/** @type {any} */ c) => hours(c.class_hours_value) },
            { label: t("ss.credited"), class: "num", cell: (/** @type {any} */ c) => hours(c.class_hours) },
            { label: t("ss.completed"), cell: (/** @type {any} */ c) => (c.completed ? t("ss.yes") : t("ss.no")) },
          ],
          courses,
          { caption: t("ss.trHeading", { n: courses.length }), id: "tr-selfstudy-table" },
        )
      : null,
  );
}
