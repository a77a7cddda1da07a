// @ts-check
// The session card: which live session (a choice when there are several), check-in with the
// screen's code or its scanned QR (also one scanned before signing in), and 签退.
import { h, clear, $ } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, ApiError } from "/static/shared/api.js";
import { currentSession, later, notice, page, randomId, showError, state } from "./context.js";
import { loadQuestions } from "./questions.js";
import { loadRollCalls } from "./rollcalls.js";
import { loadTranscript } from "./hours.js";
import { loadBetween } from "./between.js";

const PENDING_QR = "trainee.pending_qr";
const CHOSEN = "trainee.session";

// ---------------------------------------------------------------- links: slips and QR codes

/** Read the link's #join=<code> (a printed slip) and #checkin=<qr> (the screen's QR). */
export function takeQrFromHash() {
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

/** @returns {string|null} a scanned check-in QR not used yet */
export function pendingQr() {
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

/**
 * The screen's QR: cr2:<site>:<session>:<window>:<signature> (checked by the server).
 * @param {string} qr
 */
export function qrSession(qr) {
  const parts = String(qr).split(":");
  return parts.length === 5 && parts[0] === "cr2" && /^[0-9]+$/.test(parts[2]) ? Number(parts[2]) : null;
}

// ---------------------------------------------------------------- sessions

export async function loadSessions() {
  const answer = await api.get("/trainee/live-sessions");
  state.sessions = answer.items;
  const ids = state.sessions.map((s) => s.id);
  let chosen = state.sessionId;
  const fromQr = qrSession(pendingQr() || "");
  if (fromQr && ids.includes(fromQr)) chosen = fromQr;
  if (chosen === null || !ids.includes(chosen)) {
    let stored = null;
    try {
      stored = Number(sessionStorage.getItem(CHOSEN));
    } catch (_err) {
      stored = null;
    }
    const checked = state.sessions.find((s) => s.checked_in);
    chosen = stored !== null && ids.includes(stored) ? stored : checked ? checked.id : ids.length ? ids[0] : null;
  }
  await chooseSession(chosen);
  clearTimeout(state.refreshTimers.noSession);
  if (!ids.length) state.refreshTimers.noSession = setTimeout(() => loadSessions().catch(showError), 15000);
}

/** @param {number|null} id */
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
  page.renderAll();
  page.follow(id ? `session:${id}` : null); // the resync that answers it loads the session
}

export function renderSession() {
  const area = $("#session-area");
  // Redrawn on every live change: keep what the trainee is typing, and the focus.
  const typing = /** @type {HTMLInputElement | null} */ ($("#checkin-code"));
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
      { id: "session-select", onchange: (/** @type {Event} */ ev) => chooseSession(Number(/** @type {HTMLSelectElement} */ (ev.target).value)).catch(showError) },
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
    const input = /** @type {HTMLInputElement} */ (h("input", {
      id: "checkin-code",
      inputmode: "numeric",
      autocomplete: "one-time-code",
      pattern: "[0-9]{6}",
      maxlength: "6",
      "aria-describedby": "checkin-help",
    }));
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

// ---------------------------------------------------------------- check-in and 签退

// 签退: two taps (the first asks), so that a stray touch does not check anyone out.
/** @param {number} sessionId */
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

/** @param {number} sessionId */
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
  later("between", loadBetween, 300); // 我的待办 follows the check-out
}

/** @param {SubmitEvent} ev */
async function onCheckinSubmit(ev) {
  ev.preventDefault();
  const code = $("#checkin-code").value.replace(/\s+/g, "");
  if (!/^[0-9]{6}$/.test(code)) {
    notice(t("checkin.bad_code"));
    return;
  }
  await checkinWith({ code }, state.sessionId);
}

/**
 * Check in with a typed code or a scanned QR; a lost answer is asked again (same client id).
 * @param {{code: string} | {qr: string}} proof
 * @param {number|null} sessionId
 */
export async function checkinWith(proof, sessionId) {
  const qr = "qr" in proof;
  if (!sessionId) {
    if (qr) dropPendingQr();
    notice(t("err.checkin.session_not_live"));
    return;
  }
  if (qr) notice(t("checkin.qr_pending"), "ok", { stay: true }); // until the answer replaces it
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
      if (qr) dropPendingQr();
      showError(err);
      return;
    }
  }
  if (qr) dropPendingQr();
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
  later("between", loadBetween, 300); // checked in: the live day leaves 我的待办
}
