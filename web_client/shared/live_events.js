// @ts-check
// The pages' live events, one home for what the console, the trainee page and the site screen
// all do with the page's one live socket (live.js: connect, reconnect with back-off, resume
// numbered events, resync): a hub that fans the socket's events, resyncs and connection
// states out to listeners; a follower of one topic that dispatches its events by kind through
// a table and reloads on its resync; and the connection label of the top bar.
import { t } from "./i18n.js";
import { LiveSocket } from "./live.js";

/**
 * What a hub listener is given: a numbered event of a topic, or a topic's resync (the
 * snapshot the server answers a (re)subscription with when the missed events are gone).
 * @typedef {object} LiveMessage
 * @property {"event" | "resync"} type
 * @property {string} topic
 * @property {string} [kind] an event's kind ("question_on_air", "presence"…)
 * @property {any} [data] an event's data
 * @property {any} [snapshot] a resync's snapshot
 * @property {any} msg the message as it came
 */

/**
 * Handlers by event kind: an exact kind, or a prefix ending in "*" ("poll_*": every kind
 * starting with "poll_"; the longest matching prefix wins), or "*" alone for any other kind.
 * @typedef {Record<string, (data: any, kind: string) => void>} KindHandlers
 */

/** One live socket for a page; views add listeners (and topics) while they are shown. */
export class LiveHub {
  /** @param {{onState?: (state: string) => void}} [options] onState: every connection state */
  constructor({ onState } = {}) {
    /** @type {Set<(m: LiveMessage) => void>} */
    this.listeners = new Set();
    /** @type {Set<(state: string) => void>} */
    this.stateListeners = new Set();
    /** @type {LiveSocket | null} */
    this.socket = null;
    this.onState = onState || (() => {});
  }

  /** The page's socket, connected on first use. */
  start() {
    if (this.socket) return this.socket;
    this.socket = new LiveSocket({
      onEvent: (/** @type {string} */ topic, /** @type {string} */ kind, /** @type {any} */ data, /** @type {any} */ msg) => {
        for (const fn of [...this.listeners]) fn({ type: "event", topic, kind, data, msg });
      },
      onResync: (/** @type {string} */ topic, /** @type {any} */ snapshot, /** @type {any} */ msg) => {
        for (const fn of [...this.listeners]) fn({ type: "resync", topic, snapshot, msg });
      },
      onState: (/** @type {string} */ s) => {
        this.onState(s);
        for (const fn of [...this.stateListeners]) fn(s);
      },
    });
    this.socket.connect();
    return this.socket;
  }

  /** Close the socket (signed out); start() opens a new one. */
  stop() {
    if (this.socket) this.socket.close();
    this.socket = null;
  }

  /** "open" | "connecting" | "closed" */
  get state() {
    return this.socket ? this.socket.state : "closed";
  }
}

/**
 * Call the handler of `kind` in the table (see KindHandlers); false when none matches.
 * @param {KindHandlers} handlers
 * @param {string} kind
 * @param {any} data
 */
export function dispatchKind(handlers, kind, data) {
  let fn = Object.prototype.hasOwnProperty.call(handlers, kind) ? handlers[kind] : null;
  if (!fn) {
    let best = -1;
    for (const key of Object.keys(handlers)) {
      if (key.length < 2 || !key.endsWith("*")) continue;
      const prefix = key.slice(0, -1);
      if (prefix.length > best && kind.startsWith(prefix)) {
        best = prefix.length;
        fn = handlers[key];
      }
    }
  }
  if (!fn && Object.prototype.hasOwnProperty.call(handlers, "*")) fn = handlers["*"];
  if (!fn) return false;
  fn(data, kind);
  return true;
}

/**
 * Follows one topic at a time on a hub (a session's "session:<id>", "presence"…): its events
 * go to the handler of their kind, its resyncs to onResync. follow() moves to another topic.
 */
export class TopicFollower {
  /**
   * @param {LiveHub} hub
   * @param {{handlers: KindHandlers, onResync?: (snapshot: any) => void}} options
   */
  constructor(hub, { handlers, onResync }) {
    this.hub = hub;
    this.handlers = handlers;
    this.onResync = onResync || (() => {});
    /** @type {string | null} */
    this.topic = null;
    this.closed = false;
    this.listener = (/** @type {LiveMessage} */ m) => {
      if (this.closed || !this.topic || m.topic !== this.topic) return;
      if (m.type === "resync") this.onResync(m.snapshot);
      else dispatchKind(this.handlers, m.kind || "", m.data);
    };
    hub.listeners.add(this.listener);
  }

  /**
   * Follow this topic instead (null: none). A new topic is answered by the server with its
   * resync, which is where a page loads what the topic is about.
   * @param {string | null} topic
   */
  follow(topic) {
    const socket = this.hub.socket;
    if (this.topic && this.topic !== topic && socket) socket.unsubscribe([this.topic]);
    this.topic = topic;
    if (topic && socket) socket.subscribe([topic]);
  }

  /** Forget the topic without unsubscribing (its socket is gone). */
  reset() {
    this.topic = null;
  }

  /** Stop following: unsubscribe, and listen no more. */
  close() {
    this.closed = true;
    this.follow(null);
    this.hub.listeners.delete(this.listener);
  }
}

/**
 * The top bar's connection label: the state as data-state (the pages' CSS colours it) and in
 * words (each page's "conn.<state>" text). statusClass: also class "status <state>".
 * @param {HTMLElement | null} el
 * @param {string} state
 * @param {{statusClass?: boolean}} [options]
 */
export function showConnection(el, state, { statusClass = false } = {}) {
  if (!el) return;
  if (statusClass) el.className = `status ${state}`;
  el.dataset.state = state;
  el.textContent = t(`conn.${state}`);
}
