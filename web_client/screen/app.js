// @ts-check
// Site screen (the room's projector in a kiosk browser): program video, the question on air,
// the rotating check-in QR and code, roll-call and floor prompts, the site's name and its
// connection state. Signs in once with the site secret (typed, or from #secret=...), keeps
// nothing but the signed cookie the server sets, and recovers by itself after a network cut.
import { h, clear, $ } from "/static/shared/dom.js";
import { addMessages, t, applyI18n, langSwitch, getLang } from "/static/shared/i18n.js";
import { fmtClock, fmtDateTime } from "/static/shared/time.js";
import { api, ApiError, errorText } from "/static/shared/api.js";
import { LiveHub, TopicFollower, showConnection } from "/static/shared/live_events.js";
import qrcode from "/static/vendor/qrcode-generator/qrcode.js";
import { REPORT_MS, floorOther, initRoom, keepPlaying, loadSiteNames, renderHand, reportPlayback } from "./room.js";

addMessages({
  zh: {
    "signin.title": "课堂屏幕登录",
    "signin.help": "请输入本课堂的密钥（由操作员发放，与课堂代理程序相同）。",
    "signin.label": "课堂密钥",
    "signin.submit": "登录",
    "signin.empty": "请输入课堂密钥。",
    "conn.open": "在线",
    "conn.connecting": "连接中…",
    "conn.closed": "网络中断，正在重连",
    "video.waiting": "等待直播信号",
    "video.no_session": "当前没有进行中的课程",
    "video.next": "下一节：{title}（{time}）",
    "checkin.title": "扫码签到",
    "checkin.or_type": "或在学员页输入签到码",
    "checkin.rotates": "{s} 秒后更新",
    "checkin.qr_label": "签到二维码：用手机扫码签到",
    "onair.title": "正在讨论",
    "prompt.rollcall": "点名：请在手机上应答",
    "prompt.floor_mine": "本课堂正在发言",
    "prompt.floor_other": "其他课堂正在发言",
    "prompt.poll": "投票进行中：{prompt}",
    "prompt.left": "剩余 {s} 秒",
    "video.label": "主课堂直播画面",
    "sound.unmute": "开启声音",
    "prompt.floor_named": "{site} 正在发言",
    "hand.raise": "举手发言",
    "hand.lower": "取消举手",
    "hand.raised": "已举手，等待主课堂授予发言权",
    "hand.failed": "举手失败：{error}",
  },
  en: {
    "signin.title": "Site screen sign-in",
    "signin.help": "Enter this classroom's secret (from the operator; the same as the site agent's).",
    "signin.label": "Classroom secret",
    "signin.submit": "Sign in",
    "signin.empty": "Enter the classroom secret.",
    "conn.open": "Online",
    "conn.connecting": "Connecting…",
    "conn.closed": "Network lost, reconnecting",
    "video.waiting": "Waiting for the broadcast",
    "video.no_session": "No session is live now",
    "video.next": "Next: {title} ({time})",
    "checkin.title": "Scan to check in",
    "checkin.or_type": "or type this code on the trainee page",
    "checkin.rotates": "changes in {s} s",
    "checkin.qr_label": "Check-in QR code: scan it with your phone to check in",
    "onair.title": "On air",
    "prompt.rollcall": "Roll call: answer on your phone",
    "prompt.floor_mine": "This room has the floor",
    "prompt.floor_other": "Another room has the floor",
    "prompt.poll": "Poll open: {prompt}",
    "prompt.left": "{s} s left",
    "video.label": "Program video from the main classroom",
    "sound.unmute": "Turn sound on",
    "prompt.floor_named": "{site} has the floor",
    "hand.raise": "Raise hand to speak",
    "hand.lower": "Lower hand",
    "hand.raised": "Hand raised: waiting for the main classroom to give the floor",
    "hand.failed": "Could not raise the hand: {error}",
  },
});

// The page's live socket (open while signed in); onState is hoisted below.
const hub = new LiveHub({ onState });

/** @typedef {ReturnType<typeof setTimeout> | undefined} Timer */

/**
 * The screen's state. `playing` and the sound and frame fields belong to room.js.
 * @typedef {object} ScreenState
 * @property {{id: number, name: string} | null} site this room
 * @property {any} session the live session here (GET /site/current-session)
 * @property {any[]} upcoming the next sessions here
 * @property {{code: string, qr: string, until: number} | null} code the check-in code; until: ms
 * @property {Timer} codeTimer
 * @property {Timer} currentTimer
 * @property {any} onAir the question on air
 * @property {Map<number, number>} rollCalls id -> until (ms)
 * @property {{site_id: number, until: number | null} | null} floor until: ms
 * @property {Map<number, string>} siteNames the session's sites: id -> name (who has the floor)
 * @property {boolean} handUp this room asked for the floor
 * @property {boolean} soundBlocked the browser refused sound without a tap: playing muted
 * @property {boolean} [playing] a play() is under way
 * @property {{count: number, rvfc: boolean, base: number, lastQ: number}} frames frames presented (monotonic)
 * @property {Timer} reportTimer
 * @property {any[]} polls the open polls
 * @property {{close(): void} | null} media the programme's peer
 * @property {number | null} mediaFor the session the programme is asked for
 * @property {Timer} mediaTimer the next ask for the programme
 * @property {number} mediaRetry ms
 * @property {Timer} tick
 */

/** @type {ScreenState} */
const state = {
  site: null,
  session: null,
  upcoming: [],
  code: null,
  codeTimer: undefined,
  currentTimer: undefined,
  onAir: null,
  rollCalls: new Map(),
  floor: null,
  siteNames: new Map(),
  handUp: false,
  soundBlocked: false,
  frames: { count: 0, rvfc: false, base: 0, lastQ: 0 },
  reportTimer: undefined,
  polls: [],
  media: null,
  mediaFor: null,
  mediaTimer: undefined,
  mediaRetry: 0,
  tick: undefined,
};

// ---------------------------------------------------------------- sign-in

function secretFromHash() {
  const hash = window.location.hash.replace(/^#/, "");
  if (!hash) return null;
  const secret = new URLSearchParams(hash).get("secret");
  // The secret must not stay in the address bar or the history.
  history.replaceState(null, "", window.location.pathname + window.location.search);
  return secret;
}

async function start() {
  $("#lang-slot").appendChild(langSwitch());
  $("#signin-lang").appendChild(langSwitch());
  applyI18n();
  window.addEventListener("langchange", renderAll);
  $("#signin-form").addEventListener("submit", onSignIn);
  const secret = secretFromHash();
  if (secret) {
    await signIn(secret);
    return;
  }
  let me = null;
  for (let attempt = 0; ; attempt += 1) {
    try {
      me = await api.get("/auth/me");
      break;
    } catch (err) {
      // The server may be restarting when the kiosk boots: keep trying, slowly.
      const transient = err instanceof ApiError && (err.code === "network.unreachable" || err.status >= 500);
      if (!transient) break;
      await sleep(Math.min(10000, 1000 * (attempt + 1)));
    }
  }
  if (me && me.actor === "site_agent") await enter();
  else showSignIn();
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function showSignIn(message) {
  $("#screen-view").hidden = true;
  $("#signin-view").hidden = false;
  const box = $("#signin-notice");
  clear(box);
  if (message) box.appendChild(h("p", { class: "message error", role: "alert" }, message));
  $("#signin-secret").focus();
}

async function onSignIn(ev) {
  ev.preventDefault();
  const secret = $("#signin-secret").value.trim();
  if (!secret) {
    showSignIn(t("signin.empty"));
    return;
  }
  await signIn(secret);
}

async function signIn(secret) {
  try {
    await api.post("/auth/screen", { secret });
  } catch (err) {
    showSignIn(errorText(err));
    return;
  }
  $("#signin-secret").value = "";
  await enter();
}

async function enter() {
  $("#signin-view").hidden = true;
  $("#screen-view").hidden = false;
  $("#program").setAttribute("aria-label", t("video.label"));
  hub.start();
  clearInterval(state.tick);
  state.tick = setInterval(tick, 1000);
  clearInterval(state.reportTimer);
  state.reportTimer = setInterval(reportPlayback, REPORT_MS);
  await loadCurrent();
}

function signedOut(err) {
  return err instanceof ApiError && (err.status === 401 || (err.status === 403 && err.code === "auth.forbidden"));
}

// ---------------------------------------------------------------- which session

async function loadCurrent() {
  clearTimeout(state.currentTimer);
  try {
    const answer = await api.get("/site/current-session");
    state.site = answer.site;
    state.upcoming = answer.upcoming || [];
    await setSession(answer.session);
  } catch (err) {
    if (signedOut(err)) {
      stopAll();
      showSignIn(errorText(err));
      return;
    }
    console.warn(err);
  }
  renderHeader();
  renderWaiting();
  // A session may start at any time; its end arrives live, its start is looked up here.
  state.currentTimer = setTimeout(loadCurrent, state.session ? 30000 : 10000);
}

async function setSession(session) {
  const before = state.session ? state.session.id : null;
  state.session = session;
  const id = session ? session.id : null;
  if (id === before) return;
  state.onAir = null;
  state.rollCalls.clear();
  state.floor = null;
  state.handUp = false;
  state.siteNames = new Map();
  state.polls = [];
  state.code = null;
  clearTimeout(state.codeTimer);
  const topic = id ? `session:${id}` : null;
  sessionTopic.follow(topic);
  if (topic) {
    loadCode();
    loadSiteNames(id);
  }
  startMedia();
  renderAll();
}

function stopAll() {
  hub.stop();
  sessionTopic.reset();
  state.session = null;
  clearTimeout(state.codeTimer);
  clearTimeout(state.currentTimer);
  clearInterval(state.tick);
  clearInterval(state.reportTimer);
  stopMedia();
}

// ---------------------------------------------------------------- program video

function stopMedia() {
  clearTimeout(state.mediaTimer);
  state.mediaTimer = undefined;
  if (state.media) {
    try {
      state.media.close();
    } catch (err) {
      console.warn(err);
    }
  }
  state.media = null;
  state.mediaFor = null;
  const video = $("#program");
  if (video.srcObject) video.srcObject = null;
}

async function startMedia() {
  const id = state.session ? state.session.id : null;
  if (state.mediaFor === id && (state.media || state.mediaTimer)) return;
  stopMedia();
  renderWaiting();
  if (!id) return;
  state.mediaFor = id;
  try {
    const media = await import("/static/shared/media.js");
    if (state.mediaFor !== id) return;
    const view = await media.viewProgram(hub.socket, id, $("#program"));
    if (state.mediaFor !== id) {
      view.close();
      return;
    }
    state.media = view;
    state.mediaRetry = 0;
  } catch (err) {
    // No broadcast yet (or no media module): the room sees "Waiting for the broadcast" and
    // the screen asks again, slowly, and at once when the broadcast starts (an event).
    console.warn("program video unavailable", err);
    state.media = null;
    if (state.mediaFor !== id) return;
    state.mediaRetry = Math.min(30000, (state.mediaRetry || 2500) * 2);
    state.mediaTimer = setTimeout(() => {
      state.mediaTimer = undefined;
      if (state.mediaFor === id && !state.media) {
        state.mediaFor = null;
        startMedia();
      }
    }, state.mediaRetry);
  }
}

function renderWaiting() {
  const video = $("#program");
  const playing = Boolean(video.srcObject) && !video.paused && video.readyState >= 2;
  $("#waiting").hidden = playing;
  $("#waiting-text").textContent = state.session ? t("video.waiting") : t("video.no_session");
  const next = !state.session && state.upcoming.length ? state.upcoming[0] : null;
  $("#waiting-sub").textContent = next
    ? t("video.next", { title: next.title || `#${next.id}`, time: fmtDateTime(next.starts_at, getLang()) })
    : "";
}

// ---------------------------------------------------------------- check-in code and QR

async function loadCode() {
  clearTimeout(state.codeTimer);
  if (!state.session) return;
  const sessionId = state.session.id;
  let delay = 3000;
  try {
    const answer = await api.get(`/sessions/${sessionId}/checkin-code`);
    if (!state.session || state.session.id !== sessionId) return;
    state.code = { code: answer.code, qr: answer.qr, until: Date.now() + answer.seconds_to_rotation * 1000 };
    delay = answer.seconds_to_rotation * 1000 + 300;
  } catch (err) {
    if (signedOut(err)) {
      stopAll();
      showSignIn(errorText(err));
      return;
    }
    if (err instanceof ApiError && err.code === "checkin.session_not_live") {
      state.code = null;
      delay = 15000;
    }
    console.warn(err);
  }
  renderCode();
  state.codeTimer = setTimeout(loadCode, Math.max(500, delay));
}

function checkinUrl(qr) {
  return `${window.location.origin}/trainee/#checkin=${encodeURIComponent(qr)}`;
}

function drawQr(canvas, text) {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  const count = qr.getModuleCount();
  const quiet = 4;
  const size = canvas.width;
  const cell = Math.floor(size / (count + quiet * 2));
  const offset = Math.floor((size - cell * count) / 2);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = "#000000";
  for (let r = 0; r < count; r += 1) {
    for (let c = 0; c < count; c += 1) {
      if (qr.isDark(r, c)) ctx.fillRect(offset + c * cell, offset + r * cell, cell, cell);
    }
  }
}

function renderCode() {
  const panel = $("#checkin-panel");
  const code = state.code;
  panel.hidden = !code;
  if (!code) return;
  const canvas = $("#qr");
  const url = checkinUrl(code.qr);
  if (canvas.dataset.url !== url) {
    drawQr(canvas, url);
    canvas.dataset.url = url;
  }
  canvas.setAttribute("aria-label", t("checkin.qr_label"));
  $("#checkin-code").textContent = code.code;
  renderRotation();
}

function renderRotation() {
  if (!state.code) return;
  const left = Math.max(0, Math.ceil((state.code.until - Date.now()) / 1000));
  $("#checkin-rotation").textContent = t("checkin.rotates", { s: left });
}

// ---------------------------------------------------------------- live events

function onState(s) {
  onStateLabel(s);
  if (s === "open" && state.site) {
    // Back after a cut or a restart: the session may have changed; the code has rotated.
    loadCurrent();
    loadCode();
  }
}

function mine(siteIds) {
  return !Array.isArray(siteIds) || !state.site || siteIds.includes(state.site.id);
}

// The session's events: what the room sees changes at once; the resync (the answer to every
// subscription) reloads the session's state.
const sessionTopic = new TopicFollower(hub, {
  onResync: () => loadSessionState().catch((err) => console.warn(err)),
  handlers: {
    question_on_air: (data) => {
      state.onAir = data.question || null;
      renderOnAir();
    },
    question_off_air: (data) => {
      if (!state.onAir || !data.question || data.question.id === state.onAir.id) state.onAir = null;
      renderOnAir();
    },
    question_updated: (data) => {
      if (state.onAir && data.id === state.onAir.id && data.state === "on_air") {
        state.onAir = data;
        renderOnAir();
      }
    },
    roll_call: (data) => {
      if (!mine(data.site_ids)) return;
      const started = Date.parse(data.started_at);
      const deadline = Date.parse(data.deadline);
      const seconds = Number.isFinite(started) && Number.isFinite(deadline) ? (deadline - started) / 1000 : 60;
      state.rollCalls.set(data.roll_call_id || data.id, Date.now() + seconds * 1000);
      renderPrompts();
    },
    roll_call_ended: (data) => {
      state.rollCalls.delete(data.roll_call_id || data.id);
      renderPrompts();
    },
    floor_granted: (data) => {
      state.floor = { site_id: data.site_id, until: data.seconds ? Date.now() + data.seconds * 1000 : null };
      if (state.site && data.site_id === state.site.id) state.handUp = false; // granted
      renderHand();
      renderPrompts();
    },
    floor_returned: (data) => {
      if (!state.floor || state.floor.site_id === data.site_id) state.floor = null;
      renderPrompts();
    },
    floor_requested: handEvent,
    floor_withdrawn: handEvent,
    poll_opened: () => loadPolls().catch((err) => console.warn(err)),
    poll_closed: () => loadPolls().catch((err) => console.warn(err)),
    session_ended: () => loadCurrent(),
    session_started: () => loadCurrent(),
    broadcast_started: () => {
      stopMedia();
      state.mediaRetry = 0;
      startMedia();
    },
    broadcast_stopped: () => {
      stopMedia();
      renderWaiting();
    },
  },
});

/**
 * This room's hand went up or down (here or from another device of the room).
 * @param {any} data
 * @param {string} kind
 */
function handEvent(data, kind) {
  if (state.site && data.site_id === state.site.id) {
    state.handUp = kind === "floor_requested";
    renderHand();
  }
}

async function loadSessionState() {
  if (!state.session) return;
  const id = state.session.id;
  const [onAir, rolls, floor, polls] = await Promise.all([
    api.get(`/sessions/${id}/on-air`),
    api.get(`/sessions/${id}/roll-calls/open`),
    api.get(`/sessions/${id}/floor`),
    api.get(`/sessions/${id}/polls`),
  ]);
  if (!state.session || state.session.id !== id) return;
  state.onAir = onAir.current || null;
  state.rollCalls.clear();
  for (const call of rolls.items) state.rollCalls.set(call.id, Date.now() + call.seconds_left * 1000);
  state.floor = floor.holder
    ? {
        site_id: floor.holder.site_id,
        until: floor.holder.remaining_seconds == null ? null : Date.now() + floor.holder.remaining_seconds * 1000,
      }
    : null;
  state.polls = polls.items.filter((p) => p.state === "open");
  const site = state.site;
  state.handUp = Boolean(site && (floor.requests || []).some((/** @type {any} */ r) => r.site_id === site.id));
  renderAll();
}

async function loadPolls() {
  if (!state.session) return;
  const polls = await api.get(`/sessions/${state.session.id}/polls`);
  state.polls = polls.items.filter((p) => p.state === "open");
  renderPrompts();
}

// ---------------------------------------------------------------- rendering

function renderHeader() {
  $("#site-name").textContent = state.site ? state.site.name : "";
  $("#session-title").textContent = state.session ? state.session.title || "" : "";
  document.title = state.site ? `${state.site.name} · ${t("checkin.title")}` : document.title;
}

function renderOnAir() {
  const box = $("#onair");
  box.hidden = !state.onAir;
  $("#onair-text").textContent = state.onAir ? state.onAir.text : "";
}

function secondsLeft(until) {
  return Math.max(0, Math.ceil((until - Date.now()) / 1000));
}

function renderPrompts() {
  const box = $("#prompts");
  clear(box);
  const now = Date.now();
  for (const [id, until] of state.rollCalls) {
    if (until < now - 1500) {
      state.rollCalls.delete(id);
      continue;
    }
    box.appendChild(
      h("div", { class: "prompt rollcall", "data-roll-call": String(id) }, t("prompt.rollcall"), h("span", { class: "count" }, t("prompt.left", { s: secondsLeft(until) }))),
    );
  }
  if (state.floor) {
    const own = state.site && state.floor.site_id === state.site.id;
    box.appendChild(
      h(
        "div",
        { class: "prompt floor" },
        own ? t("prompt.floor_mine") : floorOther(state.floor.site_id),
        state.floor.until ? h("span", { class: "count" }, t("prompt.left", { s: secondsLeft(state.floor.until) })) : null,
      ),
    );
  }
  for (const poll of state.polls) box.appendChild(h("div", { class: "prompt poll" }, t("prompt.poll", { prompt: poll.prompt })));
}

function tick() {
  $("#clock").textContent = fmtClock(null, getLang(), { hour: "2-digit", minute: "2-digit" });
  renderRotation();
  keepPlaying();
  if (state.rollCalls.size || (state.floor && state.floor.until)) renderPrompts();
  renderWaiting();
}

function renderAll() {
  renderHand();
  renderHeader();
  renderWaiting();
  renderCode();
  renderOnAir();
  renderPrompts();
  if (hub.socket) onStateLabel(hub.socket.state);
}

/** @param {string} s */
function onStateLabel(s) {
  showConnection($("#conn"), s, { statusClass: true });
}

initRoom(state, () => renderPrompts());

start().catch((err) => {
  console.error(err);
  showSignIn(errorText(err));
});
