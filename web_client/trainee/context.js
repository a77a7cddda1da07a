// @ts-check
// The trainee page's state (one page, one trainee) and the small helpers every panel uses:
// the notice line, delayed reloads, random client ids. app.js fills in `page` (what redraws
// everything, which session topic the live socket follows).
import { h, clear, $ } from "/static/shared/dom.js";
import { errorText } from "/static/shared/api.js";

/**
 * @typedef {object} TraineeSession a live session the trainee may attend (GET /trainee/live-sessions)
 * @property {number} id
 * @property {string} [title]
 * @property {boolean} checked_in
 * @property {string} [attendance_state]
 * @property {number} [site_id]
 */

/**
 * @typedef {object} TraineeState
 * @property {any} me the signed-in trainee
 * @property {TraineeSession[]} sessions
 * @property {number|null} sessionId the session shown
 * @property {any} onAir the question on air
 * @property {any[]} questions
 * @property {number} questionsVersion bumped by my own votes and questions
 * @property {any[]} polls the open polls
 * @property {Map<number, number[]>} answeredPolls my answer to each poll I answered: the options chosen
 * @property {Map<number, {id: number, until: number, answered: boolean}>} rollCalls until: ms, local clock
 * @property {{site_id: number, until: number|null} | null} floor until: ms, local clock
 * @property {any} transcript
 * @property {Record<string, ReturnType<typeof setTimeout>>} refreshTimers
 * @property {string|null} [slipCode] a printed slip's personal code, from the link
 * @property {string|null} [pendingQr] a scanned check-in QR, where sessionStorage is missing
 */

/** @type {TraineeState} */
export const state = {
  me: null,
  sessions: [],
  sessionId: null,
  onAir: null,
  questions: [],
  questionsVersion: 0,
  polls: [],
  answeredPolls: new Map(),
  rollCalls: new Map(),
  floor: null,
  transcript: null,
  refreshTimers: {},
};

/** What app.js provides to the panels. */
export const page = {
  /** Redraw every panel (a language switch, another session chosen). */
  renderAll: () => {},
  /** @param {string|null} _topic follow this session topic on the live socket (null: none) */
  follow: (_topic) => {},
};

/** @param {string} prefix */
export function randomId(prefix) {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// How long a confirmation ("问题已提交。") stays: long enough to read, gone before the next
// thing the session brings (a roll call, 签退) so that it is not read as news then.
const CONFIRMATION_MS = 5000;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let noticeTimer;

/**
 * The one message line of the page ("" clears it). A confirmation ("ok") goes away by itself
 * after a few seconds unless `stay` (an instruction that holds until it is done); an error
 * stays until the next notice replaces it.
 * @param {string} text
 * @param {"error" | "ok"} [kind]
 * @param {{stay?: boolean}} [opts]
 */
export function notice(text, kind = "error", { stay = false } = {}) {
  const box = $("#notice");
  clearTimeout(noticeTimer);
  clear(box);
  if (!text) return;
  box.appendChild(h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text));
  if (kind === "ok" && !stay) noticeTimer = setTimeout(() => clear(box), CONFIRMATION_MS);
}

/** @param {unknown} err */
export function showError(err) {
  console.warn(err);
  notice(errorText(err), "error");
}

/**
 * Run `fn` in `ms`, once: a second call with the same name before then replaces the first.
 * @param {string} name
 * @param {() => Promise<unknown>} fn
 * @param {number} [ms]
 */
export function later(name, fn, ms = 250) {
  clearTimeout(state.refreshTimers[name]);
  state.refreshTimers[name] = setTimeout(() => fn().catch(showError), ms);
}

export function currentSession() {
  return state.sessions.find((s) => s.id === state.sessionId) || null;
}
