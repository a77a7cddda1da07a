// @ts-check
// Trainee phone page: join with a personal code, check in (QR link or typed code), follow the
// question on air, ask and upvote, answer roll calls, polls and quizzes, see my class hours.
// Every user-supplied text goes into the page as text (h() / textContent), never as HTML.
// This module signs in and out, runs the live socket and dispatches its events; each card of
// the page has its own module (checkin, questions, floor, rollcalls, polls, hours, learning).
import { $ } from "/static/shared/dom.js";
import { t, applyI18n, langSwitch } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { LiveHub, TopicFollower, showConnection } from "/static/shared/live_events.js";
import "./messages.js";
import { notice, later, page, showError, state } from "./context.js";
import { checkinWith, loadSessions, pendingQr, qrSession, renderSession, takeQrFromHash } from "./checkin.js";
import { applyVotes, loadOnAir, loadQuestions, offAirEvent, onAirEvent, onAsk, renderOnAir, renderQuestions } from "./questions.js";
import { floorGranted, floorReturned, loadFloor, renderFloor } from "./floor.js";
import { addRollCall, endRollCall, loadRollCalls, renderRollCalls } from "./rollcalls.js";
import { loadPolls, renderPolls } from "./polls.js";
import { loadTranscript, renderHours } from "./hours.js";
import { setupLearning, loadLearning, renderLearning } from "./learning.js";
import { setupSelfStudy, loadSelfStudy, renderSelfStudy } from "./selfstudy.js";
import { loadBetween, renderBetween } from "./between.js";

// The page's live socket (open while signed in) and the session topic it follows.
const hub = new LiveHub({ onState: onLiveState });

setupLearning({
  ok: (/** @type {string} */ text) => notice(text, "ok"),
  error: (/** @type {unknown} */ err) => (typeof err === "string" ? notice(err) : showError(err)),
});
setupSelfStudy(
  {
    ok: (/** @type {string} */ text) => notice(text, "ok"),
    error: (/** @type {unknown} */ err) => (typeof err === "string" ? notice(err) : showError(err)),
  },
  () => later("hours", loadTranscript, 300),
);

// ---------------------------------------------------------------- sign-in

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
  if (pendingQr()) notice(t("checkin.need_join"), "ok", { stay: true });
  $("#join-code").focus();
}

/** @param {SubmitEvent} ev */
async function onJoin(ev) {
  ev.preventDefault();
  const code = $("#join-code").value.trim();
  if (!code) {
    notice(t("join.empty"));
    return;
  }
  await joinWith(code);
}

/** @param {string} code */
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
  hub.stop();
  sessionTopic.reset();
  state.sessionId = null;
  state.me = null;
  showJoin();
}

/** @param {any} me */
async function enter(me) {
  state.me = me;
  $("#join-view").hidden = true;
  $("#app-view").hidden = false;
  renderHello();
  hub.start();
  await loadSessions();
  const qr = pendingQr();
  if (qr) await checkinWith({ qr }, qrSession(qr));
  loadTranscript().catch(showError);
  loadLearning().catch(showError);
  loadSelfStudy().catch(showError);
  loadBetween().catch(showError);
}

function renderHello() {
  $("#hello").textContent = state.me ? t("hello", { name: state.me.name }) : "";
}

/** @param {string|null} s the socket's state, null: no socket (signed out) */
function setConn(s) {
  const el = $("#conn");
  el.hidden = !s;
  if (!s) {
    delete el.dataset.state;
    el.textContent = "";
    return;
  }
  showConnection(el, s, { statusClass: true });
}

// ---------------------------------------------------------------- live events

/** @param {string} s */
function onLiveState(s) {
  setConn(s);
  // Back after a cut or a server restart: a session may have started or ended meanwhile.
  if (s === "open" && state.me) {
    later("sessions", loadSessions, 50);
    later("hours", loadTranscript, 500);
    later("learning", loadLearning, 800);
  }
}

// A session's events: each card is told what concerns it; its resync (the answer to every
// subscription) loads the session's state.
const sessionTopic = new TopicFollower(hub, {
  onResync: () => loadSessionState().catch(showError),
  handlers: {
    question_on_air: onAirEvent,
    question_off_air: offAirEvent,
    question_votes: applyVotes,
    "question_*": () => later("questions", loadQuestions), // submitted, approved, state, updated, merged…
    floor_granted: floorGranted,
    floor_returned: floorReturned,
    roll_call: addRollCall,
    roll_call_ended: endRollCall,
    poll_opened: () => later("polls", loadPolls, 50),
    poll_closed: () => later("polls", loadPolls, 50),
    session_started: sessionChanged,
    session_ended: sessionChanged,
  },
});
page.follow = (topic) => sessionTopic.follow(topic);

function sessionChanged() {
  later("sessions", loadSessions, 50);
  later("hours", loadTranscript, 1000);
  later("learning", loadLearning, 1500);
  later("between", loadBetween, 2000);
}

async function loadSessionState() {
  await Promise.all([loadOnAir(), loadQuestions(), loadPolls(), loadRollCalls(), loadFloor()]);
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
  renderSelfStudy();
  renderBetween();
  if (hub.socket) setConn(hub.socket.state);
}
page.renderAll = renderAll;

start().catch(showError);
