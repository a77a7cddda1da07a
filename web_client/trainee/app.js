// Trainee phone page: join with a personal code, check in (QR link or typed code), follow the
// question on air, ask and upvote, answer roll calls, polls and quizzes, see my class hours.
// Every user-supplied text goes into the page as text (h() / textContent), never as HTML.
import { h, clear, $ } from "/static/shared/dom.js";
import { addMessages, t, applyI18n, langSwitch, getLang } from "/static/shared/i18n.js";
import { api, ApiError, errorText } from "/static/shared/api.js";
import { LiveSocket } from "/static/shared/live.js";
import { setupLearning, loadLearning, renderLearning } from "./learning.js";
import { fmtDateTime } from "/static/shared/time.js";

addMessages({
  zh: {
    skip: "跳到正文",
    "app.title": "学员互动",
    "conn.open": "已连接",
    "conn.connecting": "连接中…",
    "conn.closed": "连接中断，正在重连",
    "join.title": "使用个人码登录",
    "join.label": "个人码",
    "join.help": "个人码由培训办发放，共 10 位字母和数字，例如 ABCDE-23456（横线和空格可省略）。",
    "join.submit": "登录",
    "join.empty": "请输入个人码。",
    logout: "退出",
    hello: "{name}，您好",
    "session.title": "当前课程与签到",
    "session.none": "当前没有进行中的课程。课程开始后本页会自动更新。",
    "session.choose": "选择课程",
    "session.checked_in": "已签到",
    "session.not_checked_in": "尚未签到",
    "session.checked_out": "已签退",
    "checkout.button": "签退",
    "checkout.confirm": "确定现在离开课堂并签退吗？",
    "checkout.yes": "确认签退",
    "checkout.no": "取消",
    "checkout.ok": "已签退。如需回到课堂，请重新输入签到码。",
    "checkout.again": "回到课堂后，可再次输入签到码签到。",
    "checkin.label": "课堂屏幕上的签到码（6 位数字）",
    "checkin.submit": "签到",
    "checkin.help": "也可以用手机相机扫描课堂屏幕上的二维码。",
    "checkin.ok": "签到成功。",
    "checkin.qr_pending": "正在用扫描的二维码签到…",
    "checkin.need_join": "请先用个人码登录，登录后将自动完成扫码签到。",
    "checkin.bad_code": "签到码应为 6 位数字。",
    "onair.title": "正在讨论的问题",
    "onair.none": "暂无正在讨论的问题。",
    "floor.title": "发言",
    "floor.mine": "本课堂正在发言",
    "floor.other": "其他课堂正在发言",
    "floor.named": "{site} 正在发言",
    "floor.left": "还剩 {s} 秒",
    "rollcall.title": "点名",
    "rollcall.prompt": "主课堂正在点名，请在倒计时结束前应答。",
    "rollcall.answer": "我在，应答",
    "rollcall.answered": "已应答，谢谢。",
    "rollcall.left": "剩余 {s} 秒",
    "polls.title": "投票与测验",
    "polls.quiz": "测验",
    "polls.poll": "投票",
    "polls.multi": "（可多选）",
    "polls.submit": "提交答案",
    "polls.done": "已提交答案。",
    "polls.pick": "请先选择一个选项。",
    "ask.title": "提问",
    "ask.label": "我的问题",
    "ask.anonymous": "匿名提问",
    "ask.submit": "提交问题",
    "ask.ok": "问题已提交。",
    "ask.waiting": "问题已提交，等待主持人审核。",
    "ask.empty": "请先输入问题。",
    "questions.title": "问题墙",
    "questions.none": "还没有问题。",
    "questions.vote": "赞同 {n}",
    "questions.vote_label": "赞同这个问题，当前 {n} 票",
    "questions.unvote_label": "取消赞同，当前 {n} 票",
    "questions.mine": "我的问题",
    "questions.anonymous": "匿名",
    "questions.on_air": "讨论中",
    "questions.pinned": "置顶",
    "questions.submitted": "审核中",
    "hours.title": "我的年度学时",
    "hours.summary": "{year} 年已获 {hours} 学时，要求 {required} 学时（{percent}%）",
    "hours.met": "已达到年度要求。",
    "hours.remaining": "还差 {n} 学时。",
    "hours.sessions": "已计入 {n} 次课程",
    "hours.absent": "缺勤",
    "hours.inProgress": "进行中",
    "hours.credited": "已计学时",
    "hours.late": "迟到",
    "hours.left_early": "早退",
    "hours.none": "本年度还没有课程记录。",
  },
  en: {
    skip: "Skip to content",
    "app.title": "Trainee",
    "conn.open": "Connected",
    "conn.connecting": "Connecting…",
    "conn.closed": "Connection lost, reconnecting",
    "join.title": "Sign in with your personal code",
    "join.label": "Personal code",
    "join.help": "Your training office gives you this code: 10 letters and digits, e.g. ABCDE-23456 (dashes and spaces are optional).",
    "join.submit": "Sign in",
    "join.empty": "Enter your personal code.",
    logout: "Sign out",
    hello: "Hello, {name}",
    "session.title": "Session and check-in",
    "session.none": "No session is live now. This page updates when one starts.",
    "session.choose": "Choose a session",
    "session.checked_in": "Checked in",
    "session.not_checked_in": "Not checked in",
    "session.checked_out": "Checked out",
    "checkout.button": "Check out",
    "checkout.confirm": "Leave the room and check out now?",
    "checkout.yes": "Yes, check out",
    "checkout.no": "Cancel",
    "checkout.ok": "Checked out. To come back, check in again with the code.",
    "checkout.again": "Back in the room? Check in again with the code.",
    "checkin.label": "Check-in code on the classroom screen (6 digits)",
    "checkin.submit": "Check in",
    "checkin.help": "Or scan the QR code on the classroom screen with your phone's camera.",
    "checkin.ok": "You are checked in.",
    "checkin.qr_pending": "Checking in with the scanned QR code…",
    "checkin.need_join": "Sign in with your personal code first; the scanned check-in completes then.",
    "checkin.bad_code": "The check-in code is 6 digits.",
    "onair.title": "Question on air",
    "onair.none": "No question is on air.",
    "floor.title": "Floor",
    "floor.mine": "Your room has the floor",
    "floor.other": "Another room has the floor",
    "floor.named": "{site} has the floor",
    "floor.left": "{s} s left",
    "rollcall.title": "Roll call",
    "rollcall.prompt": "The main classroom is taking a roll call. Answer before the time runs out.",
    "rollcall.answer": "I'm here",
    "rollcall.answered": "Answered, thank you.",
    "rollcall.left": "{s} s left",
    "polls.title": "Polls and quizzes",
    "polls.quiz": "Quiz",
    "polls.poll": "Poll",
    "polls.multi": "(choose any)",
    "polls.submit": "Submit answer",
    "polls.done": "Answer submitted.",
    "polls.pick": "Choose an option first.",
    "ask.title": "Ask a question",
    "ask.label": "My question",
    "ask.anonymous": "Ask anonymously",
    "ask.submit": "Submit question",
    "ask.ok": "Question submitted.",
    "ask.waiting": "Question submitted; it waits for the moderator.",
    "ask.empty": "Type your question first.",
    "questions.title": "Questions",
    "questions.none": "No questions yet.",
    "questions.vote": "Upvote {n}",
    "questions.vote_label": "Upvote this question, {n} votes now",
    "questions.vote_label.one": "Upvote this question, 1 vote now",
    "questions.unvote_label": "Withdraw my upvote, {n} votes now",
    "questions.unvote_label.one": "Withdraw my upvote, 1 vote now",
    "questions.mine": "Mine",
    "questions.anonymous": "Anonymous",
    "questions.on_air": "On air",
    "questions.pinned": "Pinned",
    "questions.submitted": "Awaiting review",
    "hours.title": "My class hours this year",
    "hours.summary": "{year}: {hours} of {required} class hours ({percent}%)",
    "hours.met": "You have met this year's requirement.",
    "hours.remaining": "{n} hours to go.",
    "hours.remaining.one": "1 hour to go.",
    "hours.sessions": "{n} sessions counted",
    "hours.sessions.one": "1 session counted",
    "hours.absent": "Absent",
    "hours.inProgress": "In progress",
    "hours.credited": "Credited",
    "hours.late": "Late",
    "hours.left_early": "Left early",
    "hours.none": "No sessions this year yet.",
  },
});

const PENDING_QR = "trainee.pending_qr";
const CHOSEN = "trainee.session";

const state = {
  me: null,
  sessions: [],
  sessionId: null,
  onAir: null,
  questions: [],
  questionsVersion: 0,
  polls: [],
  answeredPolls: new Set(),
  rollCalls: new Map(), // id -> {id, deadline(ms, local clock), answered}
  floor: null, // {site_id, until (ms, local clock) | null}
  transcript: null,
  live: null,
  topic: null,
  refreshTimers: {},
};

function randomId(prefix) {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function notice(text, kind = "error") {
  const box = $("#notice");
  clear(box);
  if (text) box.appendChild(h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text));
}

function showError(err) {
  console.warn(err);
  notice(errorText(err), "error");
}

function later(name, fn, ms = 250) {
  clearTimeout(state.refreshTimers[name]);
  state.refreshTimers[name] = setTimeout(() => fn().catch(showError), ms);
}

// ---------------------------------------------------------------- sign-in

function takeQrFromHash() {
  const hash = window.location.hash.replace(/^#/, "");
  if (!hash) return;
  const params = new URLSearchParams(hash);
  // A printed slip's QR: /trainee/#join=<personal code> signs in with that code.
  state.slipCode = params.get("join") || null;
  const qr = params.get("checkin");
  if (qr) {
    try {
      sessionStorage.setItem(PENDING_QR, qr);
    } catch (_err) {
      state.pendingQr = qr;
    }
  }
  history.replaceState(null, "", window.location.pathname + window.location.search);
}

function pendingQr() {
  try {
    return sessionStorage.getItem(PENDING_QR) || state.pendingQr || null;
  } catch (_err) {
    return state.pendingQr || null;
  }
}

function dropPendingQr() {
  state.pendingQr = null;
  try {
    sessionStorage.removeItem(PENDING_QR);
  } catch (_err) {
    /* nothing kept */
  }
}

// The screen's QR: cr2:<site>:<session>:<window>:<signature> (checked by the server).
function qrSession(qr) {
  const parts = String(qr).split(":");
  return parts.length === 5 && parts[0] === "cr2" && /^[0-9]+$/.test(parts[2]) ? Number(parts[2]) : null;
}

setupLearning({
  ok: (text) => notice(text, "ok"),
  error: (err) => (typeof err === "string" ? notice(err) : showError(err)),
});

async function start() {
  $("#lang-slot").appendChild(langSwitch());
  applyI18n();
  setConn(null); // no live socket before sign-in, so no connection notice either
  takeQrFromHash();
  $("#join-form").addEventListener("submit", onJoin);
  $("#logout").addEventListener("click", onLogout);
  $("#ask-form").addEventListener("submit", onAsk);
  // A QR scanned while the page is already open in this tab changes only the #… part.
  window.addEventListener("hashchange", () => onLinkOpened().catch(showError));
  window.addEventListener("langchange", () => {
    notice(""); // written in the other language; the page itself is redrawn in the new one
    renderAll();
  });
  if (state.slipCode) {
    const code = state.slipCode;
    state.slipCode = null;
    if (await joinWith(code)) return;
  }
  let me = null;
  try {
    me = await api.get("/auth/me");
  } catch (err) {
    showError(err);
  }
  if (me && me.actor === "trainee") await enter(me);
  else showJoin();
}

async function onLinkOpened() {
  takeQrFromHash();
  if (state.slipCode) {
    const code = state.slipCode;
    state.slipCode = null;
    await joinWith(code);
    return;
  }
  const qr = pendingQr();
  if (!qr) return;
  if (!state.me) {
    showJoin();
    return;
  }
  await loadSessions();
  await checkinWith({ qr }, qrSession(qr));
}

function showJoin() {
  $("#app-view").hidden = true;
  $("#join-view").hidden = false;
  setConn(null);
  if (pendingQr()) notice(t("checkin.need_join"), "ok");
  $("#join-code").focus();
}

async function onJoin(ev) {
  ev.preventDefault();
  const code = $("#join-code").value.trim();
  if (!code) {
    notice(t("join.empty"));
    return;
  }
  await joinWith(code);
}

async function joinWith(code) {
  let me;
  try {
    me = await api.post("/auth/join", { code });
  } catch (err) {
    showJoin();
    showError(err);
    return false;
  }
  notice("");
  $("#join-code").value = "";
  await enter({ actor: "trainee", name: me.name, trainee_id: me.trainee_id });
  return true;
}

async function onLogout() {
  try {
    await api.post("/auth/logout");
  } catch (err) {
    console.warn(err);
  }
  if (state.live) state.live.close();
  state.live = null;
  state.topic = null;
  state.sessionId = null;
  state.me = null;
  showJoin();
}

async function enter(me) {
  state.me = me;
  $("#join-view").hidden = true;
  $("#app-view").hidden = false;
  renderHello();
  if (!state.live) {
    state.live = new LiveSocket({ onEvent, onResync, onState: onLiveState });
    state.live.connect();
  }
  await loadSessions();
  const qr = pendingQr();
  if (qr) await checkinWith({ qr }, qrSession(qr));
  loadTranscript().catch(showError);
  loadLearning().catch(showError);
}

function renderHello() {
  $("#hello").textContent = state.me ? t("hello", { name: state.me.name }) : "";
}

function setConn(s) {
  const el = $("#conn");
  el.hidden = !s;
  if (!s) {
    delete el.dataset.state;
    el.textContent = "";
    return;
  }
  el.className = `status ${s}`;
  el.dataset.state = s;
  el.textContent = t(`conn.${s}`);
}

function onLiveState(s) {
  setConn(s);
  // Back after a cut or a server restart: a session may have started or ended meanwhile.
  if (s === "open" && state.me) {
    later("sessions", loadSessions, 50);
    later("hours", loadTranscript, 500);
    later("learning", loadLearning, 800);
  }
}

// ---------------------------------------------------------------- sessions and check-in

async function loadSessions() {
  const answer = await api.get("/trainee/live-sessions");
  state.sessions = answer.items;
  const ids = state.sessions.map((s) => s.id);
  let chosen = state.sessionId;
  const fromQr = qrSession(pendingQr() || "");
  if (fromQr && ids.includes(fromQr)) chosen = fromQr;
  if (!ids.includes(chosen)) {
    let stored = null;
    try {
      stored = Number(sessionStorage.getItem(CHOSEN));
    } catch (_err) {
      stored = null;
    }
    const checked = state.sessions.find((s) => s.checked_in);
    chosen = ids.includes(stored) ? stored : checked ? checked.id : ids.length ? ids[0] : null;
  }
  await chooseSession(chosen);
  clearTimeout(state.refreshTimers.noSession);
  if (!ids.length) state.refreshTimers.noSession = setTimeout(() => loadSessions().catch(showError), 15000);
}

async function chooseSession(id) {
  const changed = id !== state.sessionId;
  state.sessionId = id;
  try {
    if (id) sessionStorage.setItem(CHOSEN, String(id));
  } catch (_err) {
    /* not kept */
  }
  renderSession();
  if (!changed) return;
  state.onAir = null;
  state.questions = [];
  state.polls = [];
  state.rollCalls.clear();
  state.floor = null;
  renderAll();
  const topic = id ? `session:${id}` : null;
  if (state.topic && state.topic !== topic) state.live.unsubscribe([state.topic]);
  state.topic = topic;
  if (topic) state.live.subscribe([topic]); // the resync that answers it loads the session
}

function currentSession() {
  return state.sessions.find((s) => s.id === state.sessionId) || null;
}

function renderSession() {
  const area = $("#session-area");
  // Redrawn on every live change: keep what the trainee is typing, and the focus.
  const typing = $("#checkin-code");
  const kept = typing ? typing.value : "";
  const focused = typing !== null && document.activeElement === typing;
  clear(area);
  if (!state.sessions.length) {
    area.appendChild(h("p", { class: "muted", id: "no-session" }, t("session.none")));
    return;
  }
  if (state.sessions.length > 1) {
    const select = h(
      "select",
      { id: "session-select", onchange: (ev) => chooseSession(Number(ev.target.value)).catch(showError) },
      state.sessions.map((s) => h("option", { value: s.id, selected: s.id === state.sessionId }, s.title || `#${s.id}`)),
    );
    area.appendChild(h("label", { for: "session-select" }, t("session.choose")));
    area.appendChild(select);
  }
  const session = currentSession();
  if (!session) return;
  area.appendChild(h("p", { class: "session-title" }, h("strong", {}, session.title || `#${session.id}`)));
  const checked = session.checked_in;
  const out = !checked && session.attendance_state === "out";
  area.appendChild(
    h(
      "p",
      { id: "checkin-state", "data-checked-in": checked ? "yes" : out ? "out" : "no" },
      h("span", { class: checked ? "tag ok" : out ? "tag" : "tag bad" }, t(checked ? "session.checked_in" : out ? "session.checked_out" : "session.not_checked_in")),
    ),
  );
  if (checked) area.appendChild(checkoutControls(session.id));
  if (out) area.appendChild(h("p", { class: "muted" }, t("checkout.again")));
  if (!checked) {
    const input = h("input", {
      id: "checkin-code",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      pattern: "[0-9]{6}",
      maxlength: "6",
      "aria-describedby": "checkin-help",
    });
    const form = h(
      "form",
      { id: "checkin-form", novalidate: true, onsubmit: onCheckinSubmit },
      h("label", { for: "checkin-code" }, t("checkin.label")),
      h("div", { class: "row" }, h("div", { class: "grow" }, input), h("button", { class: "primary", type: "submit" }, t("checkin.submit"))),
      h("p", { id: "checkin-help", class: "muted" }, t("checkin.help")),
    );
    area.appendChild(form);
    input.value = kept;
    if (focused) input.focus();
  }
}

// 签退: two taps (the first asks), so that a stray touch does not check anyone out.
function checkoutControls(sessionId) {
  const box = h("div", { class: "row", id: "checkout-area" });
  const ask = () => {
    clear(box);
    box.appendChild(h("p", { class: "grow" }, t("checkout.confirm")));
    box.appendChild(h("button", { type: "button", class: "primary", id: "checkout-yes", onclick: () => checkOut(sessionId).catch(showError) }, t("checkout.yes")));
    box.appendChild(h("button", { type: "button", onclick: () => renderSession() }, t("checkout.no")));
    $("#checkout-yes").focus();
  };
  box.appendChild(h("button", { type: "button", id: "checkout", onclick: ask }, t("checkout.button")));
  return box;
}

async function checkOut(sessionId) {
  const record = await api.post(`/sessions/${sessionId}/checkout`);
  const session = state.sessions.find((s) => s.id === sessionId);
  if (session) {
    session.checked_in = record.state === "in";
    session.attendance_state = record.state;
  }
  renderSession();
  notice(t("checkout.ok"), "ok");
  later("hours", loadTranscript, 300);
}

async function onCheckinSubmit(ev) {
  ev.preventDefault();
  const code = $("#checkin-code").value.replace(/\s+/g, "");
  if (!/^[0-9]{6}$/.test(code)) {
    notice(t("checkin.bad_code"));
    return;
  }
  await checkinWith({ code }, state.sessionId);
}

async function checkinWith(proof, sessionId) {
  if (!sessionId) {
    if (proof.qr) dropPendingQr();
    notice(t("err.checkin.session_not_live"));
    return;
  }
  if (proof.qr) notice(t("checkin.qr_pending"), "ok");
  const body = { ...proof, client_id: randomId("web-") };
  let answer = null;
  // A lost answer is retried with the same client_id: the server answers the first result again.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      answer = await api.post(`/sessions/${sessionId}/checkin`, body);
      break;
    } catch (err) {
      if (err instanceof ApiError && err.code === "network.unreachable" && attempt < 2) {
        await new Promise((r) => setTimeout(r, 800 * (attempt + 1)));
        continue;
      }
      if (proof.qr) dropPendingQr();
      showError(err);
      return;
    }
  }
  if (proof.qr) dropPendingQr();
  notice(t("checkin.ok"), "ok");
  const record = answer && answer.record;
  const session = state.sessions.find((s) => s.id === sessionId);
  if (session && record) {
    session.checked_in = record.state === "in";
    session.attendance_state = record.state;
    session.site_id = record.site_id;
  }
  if (sessionId !== state.sessionId) await chooseSession(sessionId);
  await loadSessions();
  later("questions", loadQuestions, 10);
  later("rollcalls", loadRollCalls, 10);
  later("hours", loadTranscript, 300);
}

// ---------------------------------------------------------------- live events

function onResync(topic) {
  if (topic !== state.topic) return;
  loadSessionState().catch(showError);
}

function onEvent(topic, kind, data) {
  if (topic !== state.topic) return;
  switch (kind) {
    case "question_on_air":
      state.onAir = data.question || null;
      renderOnAir();
      later("questions", loadQuestions);
      break;
    case "question_off_air":
      if (!state.onAir || !data.question || state.onAir.id === data.question.id) state.onAir = null;
      renderOnAir();
      later("questions", loadQuestions);
      break;
    case "question_votes":
      applyVotes(data);
      break;
    case "question_submitted":
    case "question_approved":
    case "question_state":
    case "question_updated":
    case "question_merged":
      later("questions", loadQuestions);
      break;
    case "floor_granted":
      state.floor = { site_id: data.site_id, until: data.seconds ? Date.now() + data.seconds * 1000 : null };
      renderFloor();
      break;
    case "floor_returned":
      if (!state.floor || state.floor.site_id === data.site_id) state.floor = null;
      renderFloor();
      break;
    case "roll_call":
      addRollCall(data);
      break;
    case "roll_call_ended":
      state.rollCalls.delete(data.roll_call_id || data.id);
      renderRollCalls();
      break;
    case "poll_opened":
    case "poll_closed":
      later("polls", loadPolls, 50);
      break;
    case "session_started":
    case "session_ended":
      later("sessions", loadSessions, 50);
      later("hours", loadTranscript, 1000);
      later("learning", loadLearning, 1500);
      break;
    default:
      if (kind.startsWith("question_")) later("questions", loadQuestions);
  }
}

async function loadSessionState() {
  await Promise.all([loadOnAir(), loadQuestions(), loadPolls(), loadRollCalls(), loadFloor()]);
}

// ---------------------------------------------------------------- floor

// The names of the session's sites: the floor card says which one speaks.
const floorNames = { sessionId: null, names: new Map() };

async function loadFloor() {
  if (!state.sessionId) return;
  if (floorNames.sessionId !== state.sessionId) {
    try {
      const answer = await api.get(`/sessions/${state.sessionId}/site-names`);
      floorNames.sessionId = state.sessionId;
      floorNames.names = new Map(answer.items.map((s) => [s.id, s.name]));
    } catch (_err) {
      /* "another room" then */
    }
  }
  const answer = await api.get(`/sessions/${state.sessionId}/floor`);
  const holder = answer.holder;
  state.floor = holder
    ? { site_id: holder.site_id, until: holder.remaining_seconds == null ? null : Date.now() + holder.remaining_seconds * 1000 }
    : null;
  renderFloor();
}

let floorTimer = null;

function renderFloor() {
  const card = $("#floor-card");
  const floor = state.floor;
  clearTimeout(floorTimer);
  if (floor && floor.until && floor.until <= Date.now()) state.floor = null;
  card.hidden = !state.floor;
  if (!state.floor) return;
  const session = currentSession();
  const mine = session && session.site_id === floor.site_id;
  const named = floorNames.sessionId === state.sessionId ? floorNames.names.get(floor.site_id) : null;
  const text = [mine ? t("floor.mine") : named ? t("floor.named", { site: named }) : t("floor.other")];
  if (floor.until) {
    text.push(" · ", t("floor.left", { s: Math.max(0, Math.ceil((floor.until - Date.now()) / 1000)) }));
    floorTimer = setTimeout(renderFloor, 1000);
  }
  $("#floor-text").textContent = text.join("");
}

// ---------------------------------------------------------------- on air

async function loadOnAir() {
  if (!state.sessionId) return;
  const answer = await api.get(`/sessions/${state.sessionId}/on-air`);
  state.onAir = answer.current || null;
  renderOnAir();
}

function renderOnAir() {
  const el = $("#onair-text");
  el.classList.toggle("muted", !state.onAir);
  el.textContent = state.onAir ? state.onAir.text : t("onair.none");
}

// ---------------------------------------------------------------- questions

async function loadQuestions() {
  if (!state.sessionId) return;
  const version = state.questionsVersion;
  const answer = await api.get(`/sessions/${state.sessionId}/questions`, { order: "votes" });
  if (version !== state.questionsVersion) {
    // I voted or asked while this list was on its way: it may be older than what I did.
    later("questions", loadQuestions, 50);
    return;
  }
  state.questions = answer.items;
  renderQuestions();
}

function applyVotes(data) {
  const id = data.question_id || data.id;
  const q = state.questions.find((x) => x.id === id);
  if (q && typeof data.vote_count === "number") {
    q.vote_count = data.vote_count;
    renderQuestions();
  } else {
    later("questions", loadQuestions);
  }
}

function renderQuestions() {
  const list = $("#questions");
  const focusedId = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.questionId : null;
  clear(list);
  if (!state.questions.length) {
    list.appendChild(h("li", { class: "muted" }, t("questions.none")));
    return;
  }
  for (const q of state.questions) {
    const tags = [];
    if (q.state === "on_air") tags.push(h("span", { class: "tag ok" }, t("questions.on_air")));
    if (q.pinned) tags.push(h("span", { class: "tag" }, t("questions.pinned")));
    if (q.state === "submitted") tags.push(h("span", { class: "tag" }, t("questions.submitted")));
    if (q.is_mine) tags.push(h("span", { class: "tag" }, t("questions.mine")));
    const voted = Boolean(q.voted_by_me);
    const button = h(
      "button",
      {
        type: "button",
        class: "vote",
        "aria-pressed": voted ? "true" : "false",
        "aria-label": t(voted ? "questions.unvote_label" : "questions.vote_label", { n: q.vote_count }),
        "data-question-id": String(q.id),
        disabled: q.state === "submitted",
        onclick: () => toggleVote(q.id).catch(showError),
      },
      `▲ ${q.vote_count}`,
    );
    list.appendChild(
      h(
        "li",
        { class: "question", "data-id": String(q.id) },
        h(
          "div",
          { class: "q-row" },
          h("div", { class: "q-body" }, h("p", { class: "q-text" }, q.text), h("div", { class: "q-meta row" }, tags)),
          button,
        ),
      ),
    );
  }
  if (focusedId) {
    const again = list.querySelector(`button[data-question-id="${CSS.escape(focusedId)}"]`);
    if (again) again.focus();
  }
}

async function toggleVote(id) {
  // The list may have been reloaded since it was drawn: act on the current copy, by id.
  const current = () => state.questions.find((x) => x.id === id);
  const before = current();
  if (!before) return;
  const path = `/questions/${id}/vote`;
  const answer = before.voted_by_me ? await api.del(path) : await api.post(path);
  state.questionsVersion += 1;
  const q = current();
  if (q) {
    q.voted_by_me = answer.voted_by_me;
    q.vote_count = answer.vote_count;
  }
  renderQuestions();
}

async function onAsk(ev) {
  ev.preventDefault();
  const text = $("#ask-text").value.trim();
  if (!text) {
    notice(t("ask.empty"));
    return;
  }
  if (!state.sessionId) {
    notice(t("session.none"));
    return;
  }
  try {
    const q = await api.post(`/sessions/${state.sessionId}/questions`, {
      text,
      anonymous: $("#ask-anon").checked,
      client_id: randomId("q-"),
    });
    $("#ask-text").value = "";
    state.questionsVersion += 1;
    notice(t(q.state === "submitted" ? "ask.waiting" : "ask.ok"), "ok");
    await loadQuestions();
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- roll calls

function addRollCall(data) {
  const id = data.roll_call_id || data.id;
  const session = currentSession();
  if (session && session.site_id && Array.isArray(data.site_ids) && !data.site_ids.includes(session.site_id)) return;
  const started = Date.parse(data.started_at);
  const deadline = Date.parse(data.deadline);
  const seconds = Number.isFinite(started) && Number.isFinite(deadline) ? (deadline - started) / 1000 : 60;
  state.rollCalls.set(id, { id, until: Date.now() + seconds * 1000, answered: false });
  renderRollCalls();
}

async function loadRollCalls() {
  if (!state.sessionId) return;
  const answer = await api.get(`/sessions/${state.sessionId}/roll-calls/open`);
  const session = currentSession();
  state.rollCalls.clear();
  for (const call of answer.items) {
    if (session && session.site_id && !call.site_ids.includes(session.site_id)) continue;
    state.rollCalls.set(call.id, { id: call.id, until: Date.now() + call.seconds_left * 1000, answered: call.answered });
  }
  renderRollCalls();
}

let rollTimer = null;

function renderRollCalls() {
  const card = $("#rollcall-card");
  const area = $("#rollcall-area");
  const now = Date.now();
  for (const [id, call] of state.rollCalls) if (call.until <= now - 1500) state.rollCalls.delete(id);
  const calls = [...state.rollCalls.values()];
  card.hidden = calls.length === 0;
  const focused = document.activeElement && document.activeElement.id === "rollcall-answer";
  clear(area);
  for (const call of calls) {
    const left = Math.max(0, Math.ceil((call.until - now) / 1000));
    if (call.answered) {
      area.appendChild(h("p", { class: "message ok", id: "rollcall-done" }, t("rollcall.answered")));
      continue;
    }
    area.appendChild(h("p", {}, t("rollcall.prompt")));
    area.appendChild(h("p", { class: "countdown", "aria-live": "off" }, t("rollcall.left", { s: left })));
    area.appendChild(
      h("button", { type: "button", class: "primary", id: "rollcall-answer", onclick: () => answerRollCall(call.id).catch(showError) }, t("rollcall.answer")),
    );
  }
  if (focused && $("#rollcall-answer")) $("#rollcall-answer").focus();
  clearTimeout(rollTimer);
  if (calls.some((c) => !c.answered)) rollTimer = setTimeout(renderRollCalls, 1000);
}

async function answerRollCall(id) {
  await api.post(`/roll-calls/${id}/answer`);
  const call = state.rollCalls.get(id); // by id: the map may have been reloaded meanwhile
  if (call) call.answered = true;
  renderRollCalls();
}

// ---------------------------------------------------------------- polls and quizzes

async function loadPolls() {
  if (!state.sessionId) return;
  const answer = await api.get(`/sessions/${state.sessionId}/polls`);
  state.polls = answer.items.filter((p) => p.state === "open");
  renderPolls();
}

function renderPolls() {
  const card = $("#polls-card");
  const area = $("#polls-area");
  // Redrawn whenever a poll opens or closes: keep the options already ticked, and the focus.
  const ticked = new Set([...area.querySelectorAll("input:checked")].map((i) => i.id));
  const focusedId = area.contains(document.activeElement) ? document.activeElement.id : null;
  card.hidden = state.polls.length === 0;
  clear(area);
  for (const poll of state.polls) {
    const multi = poll.mode === "multiple";
    const name = `poll-${poll.id}`;
    if (state.answeredPolls.has(poll.id)) {
      area.appendChild(h("div", { class: "poll" }, h("p", {}, h("strong", {}, poll.prompt)), h("p", { class: "message ok" }, t("polls.done"))));
      continue;
    }
    const options = poll.options.map((text, i) =>
      h(
        "label",
        { class: "option", for: `${name}-${i}` },
        h("input", { type: multi ? "checkbox" : "radio", name, id: `${name}-${i}`, value: String(i), checked: ticked.has(`${name}-${i}`) }),
        h("span", {}, text),
      ),
    );
    const form = h(
      "form",
      { class: "poll", "data-poll-id": String(poll.id), onsubmit: (ev) => answerPoll(ev, poll).catch(showError) },
      h(
        "fieldset",
        {},
        h("legend", {}, `${t(poll.is_quiz ? "polls.quiz" : "polls.poll")}：${poll.prompt} ${multi ? t("polls.multi") : ""}`),
        options,
      ),
      h("button", { type: "submit", class: "primary" }, t("polls.submit")),
    );
    area.appendChild(form);
  }
  const again = focusedId ? document.getElementById(focusedId) : null;
  if (again) again.focus();
}

async function answerPoll(ev, poll) {
  ev.preventDefault();
  const choices = [...ev.target.querySelectorAll("input:checked")].map((i) => Number(i.value));
  if (!choices.length) {
    notice(t("polls.pick"));
    return;
  }
  try {
    await api.post(`/polls/${poll.id}/answers`, { choices });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "quiz.already_answered")) throw err;
  }
  state.answeredPolls.add(poll.id);
  notice(t("polls.done"), "ok");
  renderPolls();
}

// ---------------------------------------------------------------- class hours

async function loadTranscript() {
  state.transcript = await api.get("/trainee/transcript");
  renderHours();
}

function fmt(n) {
  return (Math.round(Number(n) * 10) / 10).toString();
}

function renderHours() {
  const area = $("#hours-area");
  clear(area);
  const tr = state.transcript;
  if (!tr) return;
  const p = tr.progress;
  area.appendChild(
    h("p", { id: "hours-summary" }, t("hours.summary", { year: tr.year, hours: fmt(p.class_hours), required: fmt(p.required_hours), percent: fmt(p.percent) })),
  );
  area.appendChild(
    h("progress", { class: "hours", max: String(p.required_hours || 1), value: String(Math.min(p.class_hours, p.required_hours || 1)), "aria-label": t("hours.title") }),
  );
  area.appendChild(h("p", {}, p.met ? t("hours.met") : t("hours.remaining", { n: fmt(p.remaining_hours) }), " · ", t("hours.sessions", { n: p.sessions_counted })));
  if (!tr.results.length) {
    area.appendChild(h("p", { class: "muted" }, t("hours.none")));
    return;
  }
  const list = h("ul", { class: "list results" });
  for (const r of tr.results) {
    const tags = [];
    if (r.final === false) tags.push(h("span", { class: "tag" }, t("hours.inProgress")));
    if (r.absent) tags.push(h("span", { class: "tag bad" }, t("hours.absent")));
    else if (r.credited) tags.push(h("span", { class: "tag ok" }, t("hours.credited")));
    if (r.late) tags.push(h("span", { class: "tag" }, t("hours.late")));
    if (r.left_early) tags.push(h("span", { class: "tag" }, t("hours.left_early")));
    list.appendChild(
      h("li", {}, h("div", {}, r.session_title || r.course_title), h("div", { class: "q-meta row" }, fmtDateTime(r.starts_at, getLang()), ` · ${fmt(r.class_hours)} h`, tags)),
    );
  }
  area.appendChild(list);
}

function renderAll() {
  renderHello();
  renderSession();
  renderOnAir();
  renderQuestions();
  renderRollCalls();
  renderFloor();
  renderPolls();
  renderHours();
  renderLearning();
  if (state.live) setConn(state.live.state);
}

start().catch(showError);
