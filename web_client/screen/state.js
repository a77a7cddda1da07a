// @ts-check
// The site screen's one state object, shared by its modules (app.js, program.js, checkin.js and
// room.js), and the test for an answer that means the screen has to sign in again.
import { ApiError } from "/static/shared/api.js";

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
export const state = {
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

/** The server no longer knows this screen (its cookie ended or the site's secret changed). */
export function signedOut(err) {
  return err instanceof ApiError && (err.status === 401 || (err.status === 403 && err.code === "auth.forbidden"));
}
