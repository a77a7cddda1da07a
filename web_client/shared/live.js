// @ts-check
// The browser's live socket (/ws/client, JSON): subscribe, follow numbered events, resume
// after every reconnect (also after a server restart), with capped jittered back-off.

const MIN_DELAY = 500;
const MAX_DELAY = 10000;
// A cut network often leaves the socket looking open (no FIN ever arrives): the client pings
// when the line has been quiet and gives the socket up when nothing at all came back.
const PING_AFTER = 8000;
const DEAD_AFTER = 20000;
const CONNECT_TIMEOUT = 15000;

export class LiveSocket {
  /**
   * @param {object} [options]
   * @param {(topic: string, kind: string, data: any, msg: any) => void} [options.onEvent] a numbered event
   * @param {(topic: string, snapshot: any, msg: any) => void} [options.onResync] a topic's snapshot
   * @param {(state: string) => void} [options.onState] "connecting" | "open" | "closed"
   * @param {string} [options.url]
   * @param {number} [options.pingAfter] ms of quiet before a ping
   * @param {number} [options.deadAfter] ms of silence before the socket is given up
   */
  constructor({ onEvent, onResync, onState, url, pingAfter, deadAfter } = {}) {
    this.onEvent = onEvent || (() => {});
    this.onResync = onResync || (() => {});
    this.onState = onState || (() => {});
    this.url = url || `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}/ws/client`;
    this.topics = new Set();
    this.cursors = new Map(); // topic -> {epoch, last_seq}
    this.handlers = new Map(); // message type -> Set(fn)
    this.queue = [];
    this.ws = null;
    this.state = "closed";
    this.closed = true;
    this.attempt = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} the next reconnect */
    this.timer = undefined;
    this.pingAfter = pingAfter || PING_AFTER;
    this.deadAfter = deadAfter || DEAD_AFTER;
    this.lastHeard = 0;
    this.lastPing = 0;
    this.nonce = 0;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.watchdog = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.connectTimer = undefined;
  }

  connect() {
    this.closed = false;
    this._open();
    return this;
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    try {
      this.onState(state);
    } catch (err) {
      console.error(err);
    }
  }

  _open() {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this._setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (_err) {
      this._retry();
      return;
    }
    this.ws = ws;
    // A handshake into a dead network may hang for minutes: give it up and try again.
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (ws !== this.ws || ws.readyState !== WebSocket.CONNECTING) return;
      this.ws = null;
      try {
        ws.close();
      } catch (_err) {
        /* never opened */
      }
      this._retry();
    }, CONNECT_TIMEOUT);
    ws.onopen = () => {
      if (ws !== this.ws) return;
      clearTimeout(this.connectTimer);
      this.attempt = 0;
      this.lastHeard = Date.now();
      this.lastPing = Date.now();
      this._watch();
      this._setState("open");
      if (this.topics.size) this._sendSubscribe([...this.topics]);
      const queued = this.queue;
      this.queue = [];
      for (const obj of queued) ws.send(JSON.stringify(obj));
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_err) {
        return;
      }
      this._dispatch(msg);
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      this._retry();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  _watch() {
    clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      const now = Date.now();
      if (now - this.lastHeard > this.deadAfter) {
        // Nothing heard for too long: this socket is dead even if the browser does not know.
        this.ws = null;
        clearInterval(this.watchdog);
        try {
          ws.close(4000, "no answer");
        } catch (_err) {
          /* already closing */
        }
        this._retry();
      } else if (now - this.lastHeard > this.pingAfter && now - this.lastPing > this.pingAfter) {
        this.lastPing = now;
        this.nonce += 1;
        ws.send(JSON.stringify({ type: "ping", nonce: this.nonce }));
      }
    }, 1000);
  }

  _retry() {
    clearInterval(this.watchdog);
    if (this.closed) {
      this._setState("closed");
      return;
    }
    const cap = Math.min(MAX_DELAY, MIN_DELAY * 2 ** this.attempt);
    const delay = Math.max(MIN_DELAY / 2, cap / 2 + Math.random() * (cap / 2));
    this.attempt += 1;
    this._setState("closed");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._open(), delay);
  }

  _dispatch(msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "batch" && Array.isArray(msg.messages)) {
      for (const inner of msg.messages) this._dispatch(inner);
      return;
    }
    if (msg.type === "event") {
      const cursor = this.cursors.get(msg.topic);
      if (cursor && cursor.epoch === msg.epoch && msg.seq <= cursor.last_seq) return; // repeat
      this.cursors.set(msg.topic, { epoch: msg.epoch, last_seq: msg.seq });
      this._call(() => this.onEvent(msg.topic, msg.kind, msg.data, msg));
    } else if (msg.type === "resync") {
      this.cursors.set(msg.topic, { epoch: msg.epoch, last_seq: msg.seq });
      this._call(() => this.onResync(msg.topic, msg.snapshot, msg));
    } else if (msg.type === "gap") {
      const topics = (msg.topics || []).filter((topic) => this.topics.has(topic));
      if (topics.length) this._sendSubscribe(topics);
    }
    const fns = this.handlers.get(msg.type);
    if (fns) for (const fn of [...fns]) this._call(() => fn(msg));
  }

  _call(fn) {
    try {
      fn();
    } catch (err) {
      console.error(err);
    }
  }

  _sendSubscribe(topics) {
    for (let i = 0; i < topics.length; i += 16) {
      const chunk = topics.slice(i, i + 16);
      const resume = {};
      for (const topic of chunk) {
        const cursor = this.cursors.get(topic);
        if (cursor) resume[topic] = { epoch: cursor.epoch, last_seq: cursor.last_seq };
      }
      const msg = { type: "subscribe", topics: chunk };
      if (Object.keys(resume).length) msg.resume = resume;
      this._rawSend(msg);
    }
  }

  _rawSend(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
  }

  subscribe(topics) {
    const fresh = [];
    for (const topic of [].concat(topics)) {
      if (!this.topics.has(topic)) {
        this.topics.add(topic);
        fresh.push(topic);
      }
    }
    if (fresh.length && this.state === "open") this._sendSubscribe(fresh);
  }

  unsubscribe(topics) {
    const gone = [].concat(topics).filter((topic) => this.topics.delete(topic));
    for (const topic of gone) this.cursors.delete(topic);
    if (gone.length && this.state === "open") this._rawSend({ type: "unsubscribe", topics: gone });
  }

  send(obj) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj));
    else this.queue.push(obj);
  }

  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return this;
  }

  off(type, fn) {
    const fns = this.handlers.get(type);
    if (fns) fns.delete(fn);
    return this;
  }

  close() {
    this.closed = true;
    clearInterval(this.watchdog);
    clearTimeout(this.connectTimer);
    clearTimeout(this.timer);
    this.timer = undefined;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this._setState("closed");
  }
}
