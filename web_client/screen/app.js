// @ts-check
// Site screen (the room's projector in a kiosk browser): program video, the question on air,
// the rotating check-in QR and code, roll-call and floor prompts, the site's name and its
// connection state. Signs in once with the site secret (typed, or from #secret=...), keeps
// nothing but the signed cookie the server sets, and recovers by itself after a network cut.
// This module signs in, follows the room's session and its live events and renders the
// prompts; the state is state.js's, the programme program.js's, the code checkin.js's, the
// sound, playback report and raised hand room.js's, the texts texts.js's.
import { h, clear, $ } from "/static/shared/dom.js";
import { t, applyI18n, langSwitch, getLang } from "/static/shared/i18n.js";
import { fmtClock } from "/static/shared/time.js";
import { api, ApiError, errorText } from "/static/shared/api.js";
import { LiveHub, TopicFollower, showConnection } from "/static/shared/live_events.js";
import "./texts.js";
import { state, signedOut } from "./state.js";
import { renderWaiting, startMedia, stopMedia } from "./program.js";
import { loadCode, renderCode, renderRotation } from "./checkin.js";
import { REPORT_MS, floorOther, initRoom, keepPlaying, loadSiteNames, renderHand, reportPlayback } from "./room.js";

// The page's live socket (open while signed in); onState is hoisted below.
const hub = new LiveHub({ onState });

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

/**
 * The server no longer knows this screen: stop everything and ask for the secret again.
 * @param {unknown} err
 */
function backToSignIn(err) {
  stopAll();
  showSignIn(err instanceof ApiError && err.status === 401 ? t("signin.revoked") : errorText(err));
}

/** Signed out by the server (no error to tell): the login ended, the secret may be new. */
function loginEnded() {
  stopAll();
  showSignIn(t("signin.revoked"));
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
      backToSignIn(err);
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
    loadCode(backToSignIn);
    loadSiteNames(id);
  }
  startMedia(hub);
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

// ---------------------------------------------------------------- live events

function onState(s) {
  onStateLabel(s);
  if (s === "open" && state.site) {
    // Back after a cut or a restart: the session may have changed; the code has rotated.
    loadCurrent();
    loadCode(backToSignIn);
  }
  if (s === "closed" && state.site) stillSignedIn();
}

// A closed socket may be the server ending this screen's login (a new site secret closes the
// sockets of the old one): ask at once rather than show the live code until its next rotation.
let asking = false;
async function stillSignedIn() {
  if (asking) return;
  asking = true;
  try {
    const me = await api.get("/auth/me"); // a cookie no longer valid reads as anonymous
    if (me.actor !== "site_agent" && !$("#screen-view").hidden) loginEnded();
  } catch (err) {
    if (signedOut(err) && !$("#screen-view").hidden) backToSignIn(err);
  } finally {
    asking = false;
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
      renderHand(); // a room that spoke may raise its hand again
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
      startMedia(hub);
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
