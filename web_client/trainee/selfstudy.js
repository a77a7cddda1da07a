// @ts-check
// Self-study courses (自学课程): the list with my progress, and the player. The player resumes
// where I stopped and reports every few seconds (position, playing, visible, speed); the
// server decides what is credited (server/core/selfstudy.py) and may ask 在吗？, which pauses
// the video until I answer (a countdown; missed: the time since the last check is lost).
// One device at a time: this tab's id lives in sessionStorage, so a reload is the same device.
import { h, clear, $ } from "/static/shared/dom.js";
import { addMessages, t, getLang } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { fmtDateTime } from "/static/shared/time.js";
import { randomId } from "./context.js";

addMessages({
  zh: {
    "ss.title": "自学课程",
    "ss.none": "目前没有需要学习的自学课程。",
    "ss.meta": "{hours} 学时 · 截止 {until}",
    "ss.progress": "已学 {percent}% · 已计 {credited} 学时",
    "ss.done": "已完成",
    "ss.closed": "已截止",
    "ss.start": "开始学习",
    "ss.resume": "继续学习",
    "ss.close": "收起",
    "ss.counting": "计时中",
    "ss.paused": "已暂停计时：视频未播放",
    "ss.hidden": "已暂停计时：页面不在前台",
    "ss.speed": "已暂停计时：请以正常速度（1 倍速）播放",
    "ss.jump": "拖动进度跳过的部分不计时",
    "ss.gap": "连接中断的时间不计时",
    "ss.closed_now": "课程已过学习时间，不再计时",
    "ss.other_device": "您正在另一台设备上学习本课程，本设备不计时。",
    "ss.told": "您的账号在另一台设备上打开了本课程；同一时间只有一台设备计时。",
    "ss.waiting": "已暂停计时：请先确认“在吗？”",
    "ss.check_title": "在吗？",
    "ss.check_text": "请在倒计时结束前点“我在”，否则上次确认以来的观看时间不计入学时。",
    "ss.check_left": "剩余 {n} 秒",
    "ss.check_yes": "我在",
    "ss.check_ok": "已确认，继续计时。",
    "ss.check_missed": "“在吗？”已超时，上次确认以来的观看时间不计入学时。",
    "ss.check_continue": "继续学习",
    "ss.check_stats": "“在吗？”已答 {answered} 次 · 超时 {missed} 次",
    "ss.ended_full": "视频已播完：已学 {percent}%，已获全部 {hours} 学时。",
    "ss.ended_more": "视频已播完：已学 {percent}%，已计 {credited} 学时。再看约 {minutes} 分钟未计时的内容（共达到 {full}%）即可获得全部 {hours} 学时；重看已计时的部分不重复计算。",
  },
  en: {
    "ss.title": "Self-study courses",
    "ss.none": "No self-study course to watch now.",
    "ss.meta": "{hours} class hours · until {until}",
    "ss.progress": "{percent}% watched · {credited} class hours credited",
    "ss.done": "Completed",
    "ss.closed": "Closed",
    "ss.start": "Start",
    "ss.resume": "Resume",
    "ss.close": "Close",
    "ss.counting": "Counting",
    "ss.paused": "Not counting: the video is paused",
    "ss.hidden": "Not counting: the page is in the background",
    "ss.speed": "Not counting: play at normal speed (1x)",
    "ss.jump": "Skipped parts are not counted",
    "ss.gap": "Time without connection is not counted",
    "ss.closed_now": "The course window has closed; nothing more is counted",
    "ss.other_device": "You are watching this course on another device; this one does not count.",
    "ss.told": "This course was opened on another device of yours; only one device counts at a time.",
    "ss.waiting": "Not counting: answer \"Are you there?\" first",
    "ss.check_title": "Are you there?",
    "ss.check_text": "Tap \"I'm here\" before the countdown ends, or the time since the last check is not counted.",
    "ss.check_left": "{n} s left",
    "ss.check_yes": "I'm here",
    "ss.check_ok": "Confirmed; counting goes on.",
    "ss.check_missed": "The check timed out: the time since the last check is not counted.",
    "ss.check_continue": "Continue",
    "ss.check_stats": "Checks answered {answered} · missed {missed}",
    "ss.ended_full": "The video has ended: {percent}% watched, all {hours} class hours earned.",
    "ss.ended_more": "The video has ended: {percent}% watched, {credited} class hours credited. Watch about {minutes} more minutes not yet counted (to reach {full}%) to earn all {hours} class hours; parts already counted do not count twice.",
  },
});

const BEAT_MS = 5000;
const MIN_GAP_MS = 1100; // the server refuses heartbeats closer than 1 s

/**
 * @typedef {object} Player
 * @property {any} course
 * @property {HTMLVideoElement} video
 * @property {ReturnType<typeof setInterval> | null} timer
 * @property {number} lastBeat ms, local clock
 * @property {string} status an ss.* key
 * @property {{seq: number, until: number} | null} check until: ms, local clock
 * @property {boolean} missed the last check timed out (until the trainee continues)
 * @property {ReturnType<typeof setInterval> | null} countdown
 */

/** @type {{items: any[], player: Player | null}} */
const state = { items: [], player: null };
let say = { ok: (/** @type {string} */ _text) => {}, error: (/** @type {unknown} */ _err) => {} };
let hoursChanged = () => {};

/**
 * @param {{ok: (text: string) => void, error: (err: unknown) => void}} sayer
 * @param {() => void} onCredit called when credited time may have changed the year's hours
 */
export function setupSelfStudy(sayer, onCredit) {
  say = sayer;
  hoursChanged = onCredit;
  document.addEventListener("visibilitychange", () => beatSoon());
}

function deviceId() {
  let id = sessionStorage.getItem("selfstudy.device");
  if (!id) {
    id = randomId("dev");
    sessionStorage.setItem("selfstudy.device", id);
  }
  return id;
}

export async function loadSelfStudy() {
  const list = await api.get("/trainee/selfstudy");
  state.items = list.items;
  renderSelfStudy();
}

/** @param {number} n */
function fmt(n) {
  return (Math.round(Number(n) * 10) / 10).toString();
}

export function renderSelfStudy() {
  const card = $("#selfstudy-card");
  if (!card) return;
  const list = $("#selfstudy-list");
  clear(list);
  if (!state.items.length) list.appendChild(h("li", { class: "muted" }, t("ss.none")));
  for (const c of state.items) {
    const p = c.progress;
    const tags = [];
    if (p.completed) tags.push(h("span", { class: "tag ok" }, t("ss.done")));
    if (!c.open) tags.push(h("span", { class: "tag" }, t("ss.closed")));
    const playing = state.player && state.player.course.id === c.id;
    list.appendChild(
      h(
        "li",
        { class: "ss-course", "data-course": String(c.id) },
        h("div", { class: "ss-title" }, c.title),
        h("div", { class: "q-meta" }, t("ss.meta", { hours: fmt(c.class_hours), until: fmtDateTime(c.closes_at, getLang()) })),
        h("progress", { class: "hours", max: "1", value: String(p.share), "aria-label": c.title }),
        h("div", { class: "q-meta row ss-progress" }, t("ss.progress", { percent: fmt(p.share * 100), credited: fmt(p.credited_hours) }), tags),
        c.open && !playing
          ? h("div", { class: "row" }, h("button", { type: "button", class: "primary ss-play", onclick: () => openPlayer(c) }, p.position_s > 0 ? t("ss.resume") : t("ss.start")))
          : null,
      ),
    );
  }
  renderPlayer();
}

/** @param {any} course */
function openPlayer(course) {
  closePlayer();
  const video = /** @type {HTMLVideoElement} */ (
    h("video", { id: "ss-video", controls: true, playsinline: true, preload: "metadata", src: course.video })
  );
  const resumeAt = course.progress.position_s || 0;
  video.addEventListener("loadedmetadata", () => {
    if (resumeAt > 0 && resumeAt < video.duration - 1) video.currentTime = resumeAt;
  });
  for (const name of ["play", "pause", "ratechange", "seeked", "ended"]) video.addEventListener(name, () => beatSoon());
  state.player = { course, video, timer: setInterval(() => beat(), BEAT_MS), lastBeat: 0, status: "ss.paused", check: null, missed: false, countdown: null };
  renderSelfStudy();
  video.play().catch(() => {}); // a phone may want a tap on the video first
}

function closePlayer() {
  const p = state.player;
  if (!p) return;
  if (p.timer) clearInterval(p.timer);
  if (p.countdown) clearInterval(p.countdown);
  p.video.pause();
  state.player = null;
}

function renderPlayer() {
  const area = $("#selfstudy-player");
  const p = state.player;
  if (!p) {
    clear(area);
    area.hidden = true;
    return;
  }
  area.hidden = false;
  if (!area.contains(p.video)) {
    clear(area);
    area.appendChild(h("h3", { class: "ss-now" }, p.course.title));
    area.appendChild(
      h("div", { class: "ss-stage" }, p.video, h("div", { id: "ss-overlay", class: "ss-overlay", hidden: true, role: "alertdialog", "aria-labelledby": "ss-check-h" })),
    );
    area.appendChild(h("p", { id: "ss-status", class: "q-meta", role: "status", "aria-live": "polite" }));
    area.appendChild(h("p", { id: "ss-checks", class: "q-meta" }));
    area.appendChild(h("div", { class: "row" }, h("button", { type: "button", onclick: () => finish().catch(say.error) }, t("ss.close"))));
  }
  $("#ss-status").textContent = p.status === "ss.ended" ? endedText(p.course) : t(p.status);
  $("#ss-status").className = `q-meta ${p.status === "ss.counting" ? "ss-on" : "ss-off"}`;
  const prog = p.course.progress;
  $("#ss-checks").textContent = p.course.presence_check ? t("ss.check_stats", { answered: prog.checks_answered, missed: prog.checks_missed }) : "";
  renderOverlay();
}

function renderOverlay() {
  const p = state.player;
  const box = $("#ss-overlay");
  if (!p || !box) return;
  clear(box);
  const asking = Boolean(p.check || p.missed);
  if (box.parentElement) box.parentElement.classList.toggle("asking", asking);
  p.video.controls = !asking; // a phone draws the native controls above any page element
  if (p.check) {
    const left = Math.max(0, Math.ceil((p.check.until - Date.now()) / 1000));
    box.hidden = false;
    box.append(
      h("h3", { id: "ss-check-h" }, t("ss.check_title")),
      h("p", {}, t("ss.check_text")),
      h("p", { class: "countdown", id: "ss-countdown" }, t("ss.check_left", { n: left })),
      h("button", { type: "button", class: "primary", id: "ss-here", onclick: () => answer() }, t("ss.check_yes")),
    );
  } else if (p.missed) {
    box.hidden = false;
    box.append(
      h("h3", { id: "ss-check-h" }, t("ss.check_title")),
      h("p", { class: "message error" }, t("ss.check_missed")),
      h("button", { type: "button", class: "primary", onclick: () => { p.missed = false; renderOverlay(); p.video.play().catch(() => {}); } }, t("ss.check_continue")),
    );
  } else {
    box.hidden = true;
  }
}

/** What the end of the video earned, and how much more watching would earn the whole value. @param {any} course */
function endedText(course) {
  const pr = course.progress;
  const vars = { percent: fmt(pr.share * 100), hours: fmt(course.class_hours), credited: fmt(pr.credited_hours) };
  if (pr.completed) return t("ss.ended_full", vars);
  const minutes = Math.max(1, Math.ceil(((pr.full_credit_share - pr.share) * course.duration_s) / 60));
  return t("ss.ended_more", { ...vars, minutes, full: fmt(pr.full_credit_share * 100) });
}

/** Close: the last stretch since the previous heartbeat is reported first, then the hours. */
async function finish() {
  const p = state.player;
  if (!p) return;
  p.video.pause();
  const wait = p.lastBeat + MIN_GAP_MS - Date.now();
  if (wait > 0) await new Promise((done) => setTimeout(done, wait));
  await beat();
  if (state.player !== p) return; // another course was opened meanwhile
  closePlayer();
  hoursChanged();
  await loadSelfStudy();
}

function beatSoon() {
  const p = state.player;
  if (!p) return;
  const wait = Math.max(0, p.lastBeat + MIN_GAP_MS - Date.now());
  setTimeout(() => beat(), wait);
}

async function beat() {
  const p = state.player;
  if (!p || Date.now() - p.lastBeat < MIN_GAP_MS) return;
  p.lastBeat = Date.now();
  const v = p.video;
  const body = {
    device: deviceId(),
    position: Math.max(0, v.currentTime || 0),
    playing: !v.paused && !v.ended,
    visible: document.visibilityState === "visible",
    rate: v.playbackRate || 1,
  };
  let reply;
  try {
    reply = await api.post(`/selfstudy/courses/${p.course.id}/progress`, body);
  } catch (err) {
    if (/** @type {any} */ (err).code !== "selfstudy.too_many_beats") say.error(err);
    return;
  }
  if (state.player !== p) return;
  const before = p.course.progress.credited_hours;
  p.course.progress = reply.progress;
  p.status = v.ended ? "ss.ended" : statusOf(reply.reason, body);
  if (reply.progress.credited_hours !== before || (reply.counted_s > 0 && !body.playing)) hoursChanged();
  if (reply.reason === "other_device") say.error(t("ss.other_device"));
  else if (reply.other_device) say.error(t("ss.told"));
  if (reply.check && !p.check) showCheck(reply.check);
  if (p.check || p.missed) p.status = "ss.waiting";
  else if (reply.reason === "other_device" || reply.reason === "window_closed") p.status = statusOf(reply.reason, body);
  renderPlayer();
  updateListRow(p.course);
}

/**
 * What the status line says: this page's own state first, then the server's reason.
 * @param {string} reason @param {{playing: boolean, visible: boolean, rate: number}} body
 */
function statusOf(reason, body) {
  if (reason === "other_device") return "ss.other_device";
  if (reason === "window_closed") return "ss.closed_now";
  if (!body.visible) return "ss.hidden";
  if (Math.abs(body.rate - 1) > 0.1) return "ss.speed";
  if (!body.playing) return "ss.paused";
  if (reason === "jump") return "ss.jump";
  if (reason === "gap") return "ss.gap";
  return "ss.counting";
}

/** @param {{seq: number, remaining_s: number}} check */
function showCheck(check) {
  const p = state.player;
  if (!p) return;
  p.video.pause();
  p.status = "ss.waiting";
  p.check = { seq: check.seq, until: Date.now() + check.remaining_s * 1000 };
  if (p.countdown) clearInterval(p.countdown);
  p.countdown = setInterval(() => {
    if (!p.check) return;
    if (Date.now() >= p.check.until) {
      p.check = null;
      p.missed = true;
      if (p.countdown) clearInterval(p.countdown);
      p.countdown = null;
      renderOverlay();
      return;
    }
    const el = $("#ss-countdown");
    if (el) el.textContent = t("ss.check_left", { n: Math.max(0, Math.ceil((p.check.until - Date.now()) / 1000)) });
  }, 250);
  renderOverlay();
  const yes = $("#ss-here");
  if (yes) yes.focus();
}

async function answer() {
  const p = state.player;
  if (!p || !p.check) return;
  const seq = p.check.seq;
  p.check = null;
  if (p.countdown) clearInterval(p.countdown);
  p.countdown = null;
  try {
    const res = await api.post(`/selfstudy/courses/${p.course.id}/answer`, { seq });
    p.course.progress = res.progress;
    say.ok(t("ss.check_ok"));
  } catch (err) {
    if (/** @type {any} */ (err).code === "selfstudy.check_missed") p.missed = true;
    say.error(err);
  }
  renderPlayer();
  updateListRow(p.course);
  if (!p.missed) p.video.play().catch(() => {});
}

/** @param {any} course */
function updateListRow(course) {
  const row = document.querySelector(`.ss-course[data-course="${course.id}"]`);
  if (!row) return;
  const pr = course.progress;
  const bar = row.querySelector("progress");
  if (bar) bar.value = pr.share;
  const line = row.querySelector(".ss-progress");
  if (line && line.firstChild) line.firstChild.textContent = t("ss.progress", { percent: fmt(pr.share * 100), credited: fmt(pr.credited_hours) });
}

addMessages({
  zh: {
    "ss.split": "其中现场 {live} 学时 · 自学 {self} 学时{counted}",
    "ss.notCounted": "（自学不计入年度要求）",
    "ss.line": "自学：{title}",
  },
  en: {
    "ss.split": "Live {live} h · self-study {self} h{counted}",
    "ss.notCounted": " (self-study does not count toward the year)",
    "ss.line": "Self-study: {title}",
  },
});

/**
 * The hours card's self-study part: live and self-study hours apart, and each course's credit.
 * @param {any} tr GET /trainee/transcript
 */
export function selfStudyHoursPart(tr) {
  const p = tr.progress;
  const courses = tr.selfstudy || [];
  return [
    h("p", { id: "hours-split", class: "q-meta" }, t("ss.split", { live: fmt(p.live_hours), self: fmt(p.selfstudy_hours), counted: p.counts_selfstudy ? "" : t("ss.notCounted") })),
    courses.length
      ? h(
          "ul",
          { class: "list results", id: "hours-selfstudy" },
          courses.map((/** @type {any} */ c) =>
            h(
              "li",
              {},
              h("div", {}, t("ss.line", { title: c.title })),
              h("div", { class: "q-meta row" }, t("ss.progress", { percent: fmt(c.share * 100), credited: fmt(c.class_hours) }), c.completed ? h("span", { class: "tag ok" }, t("ss.done")) : null),
            ),
          ),
        )
      : null,
  ];
}
