// @ts-check
// WebRTC in the browser: publish the operator's camera, view the program, view one site's
// return feed (a tile of the operator's wall). Signalling goes over the LiveSocket (live.js)
// with media_offer / media_answer / media_error / media_close (docs/client-protocol.md).
// ICE is not trickled: the offer leaves once gathering is complete, candidates included.
// After the live socket reconnects (the server closes a socket's peers when it closes) and
// when a connection fails or is not up CONNECT_TIMEOUT after its answer, the peer is offered
// again with a capped back-off; a peer with maxAttempts gives up after that many attempts in a
// row that did not connect (its onState says so, and what it is doing meanwhile).

const VIDEO_CODEC = "video/vp8";
const AUDIO_CODEC = "audio/opus";
const ANSWER_TIMEOUT = 15000;
const GATHER_TIMEOUT = 5000;
const RETRY_MIN = 1000;
const RETRY_MAX = 10000;
const CONNECT_TIMEOUT = 10000; // answered, but no connection by then: offered again

let counter = 0;

export class MediaError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

function requestId(prefix) {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`.slice(0, 32).replace(/[^A-Za-z0-9_-]/g, "");
}

function preferCodecs(transceiver, kind) {
  const caps = (window.RTCRtpReceiver && RTCRtpReceiver.getCapabilities) ? RTCRtpReceiver.getCapabilities(kind) : null;
  if (!caps || !transceiver.setCodecPreferences) return;
  const wanted = kind === "video" ? VIDEO_CODEC : AUDIO_CODEC;
  const chosen = caps.codecs.filter((c) => c.mimeType.toLowerCase() === wanted);
  if (kind === "video") chosen.push(...caps.codecs.filter((c) => c.mimeType.toLowerCase() === "video/rtx"));
  if (chosen.length) transceiver.setCodecPreferences(chosen); // before the offer: it sticks
}

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((/** @type {(value?: void) => void} */ resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve(); // send what we have
    }, GATHER_TIMEOUT);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

function exchange(live, offer) {
  return new Promise((resolve, reject) => {
    const matches = (msg) => msg.session_id === offer.session_id && msg.request_id === offer.request_id;
    const onAnswer = (msg) => {
      if (!matches(msg)) return;
      cleanup();
      resolve(msg.sdp);
    };
    const onError = (msg) => {
      if (!matches(msg)) return;
      cleanup();
      reject(new MediaError(msg.code, msg.message));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new MediaError("media.timeout", "no answer from the server"));
    }, ANSWER_TIMEOUT);
    function cleanup() {
      clearTimeout(timer);
      live.off("media_answer", onAnswer);
      live.off("media_error", onError);
    }
    live.on("media_answer", onAnswer);
    live.on("media_error", onError);
    live.send(offer);
  });
}

// STUN/TURN servers from the server, with this user's short-lived TURN credentials (TURN REST):
// fetched once and again when half their lifetime is gone. Unreachable: host candidates only.
let iceCache = null;
async function serverIceServers() {
  if (iceCache && iceCache.renewAt > Date.now()) return iceCache.servers;
  try {
    const r = await fetch("/api/v1/media/ice-servers", { credentials: "same-origin" });
    if (r.ok) {
      const body = await r.json();
      const ttl = body.ttl_s ? body.ttl_s * 500 : 3600 * 1000;
      iceCache = { servers: body.ice_servers || [], renewAt: Date.now() + ttl };
    }
  } catch (_err) {
    /* offline: keep what we had */
  }
  return iceCache ? iceCache.servers : [];
}

// One kept-up peer: build(pc) adds transceivers; onTrack(stream) for received media.
class KeptPeer {
  /**
   * @param {any} live the page's LiveSocket
   * @param {number} sessionId
   * @param {string} role "publish" | "view" | "site"
   * @param {{requestId: string, siteId?: number, build: (pc: RTCPeerConnection) => void, onTrack?: (stream: MediaStream, track: MediaStreamTrack) => void, iceServers?: RTCIceServer[] | null, maxAttempts?: number, onState?: () => void}} options
   */
  constructor(live, sessionId, role, { requestId: rid, siteId, build, onTrack, iceServers, maxAttempts, onState }) {
    this.live = live;
    this.sessionId = sessionId;
    this.role = role;
    this.requestId = rid;
    this.siteId = siteId;
    this.build = build;
    this.onTrack = onTrack || (() => {});
    this.iceServers = iceServers || null; // null: ask the server (serverIceServers)
    this.pc = null;
    this.closed = false;
    this.attempt = 0;
    this.failures = 0; // attempts in a row that did not connect
    this.maxAttempts = maxAttempts || Infinity;
    this.onState = onState || (() => {});
    this.retryAt = 0; // Date.now() of the next attempt while "retrying"
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.connectTimer = undefined;
    this.state = "new";
    this.lastError = null;
    this._onHello = () => {
      // a new socket: the server forgot this socket's peers (an offer still in flight was
      // queued and went out on the new socket, so leave that one alone)
      if (this.pc && this.state !== "connecting") this._again(0);
    };
  }

  async start() {
    this.live.on("hello", this._onHello);
    try {
      await this._negotiate();
    } catch (err) {
      this.close(); // refused: nothing is kept up (no connection, no listener left behind)
      throw err;
    }
    return this;
  }

  async _negotiate() {
    if (this.closed) return;
    const iceServers = this.iceServers || (await serverIceServers());
    if (this.closed) return;
    const pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    const old = this.pc;
    this.pc = pc;
    if (old) old.close();
    clearTimeout(this.connectTimer);
    this._set("connecting");
    pc.addEventListener("track", (ev) => {
      if (pc === this.pc) this.onTrack(ev.streams[0] || new MediaStream([ev.track]), ev.track);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === "connected") {
        this.attempt = this.failures = 0;
        clearTimeout(this.connectTimer);
      }
      if (pc.connectionState === "failed") this._failed(new MediaError("media.connect_failed"));
      else this._set(pc.connectionState);
    });
    this.build(pc);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const offer = {
      type: "media_offer",
      session_id: this.sessionId,
      role: this.role,
      request_id: this.requestId,
      sdp: /** @type {RTCSessionDescription} */ (pc.localDescription).sdp, // set just above
    };
    if (this.siteId != null) offer.site_id = this.siteId;
    const sdp = await exchange(this.live, offer);
    if (pc !== this.pc || this.closed) return;
    await pc.setRemoteDescription({ type: "answer", sdp });
    // An answer is no connection: a peer the server dropped, or UDP the network does not
    // carry, can leave the connection "connecting" for good.
    this.connectTimer = setTimeout(() => {
      if (pc === this.pc && pc.connectionState !== "connected") this._failed(new MediaError("media.connect_timeout"));
    }, CONNECT_TIMEOUT);
  }

  /** @param {string} state */
  _set(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState();
  }

  /** An attempt did not connect: offer again after a pause, or give up after maxAttempts. */
  _failed(err) {
    if (this.closed) return;
    this.lastError = err;
    this.failures += 1;
    // the attempt is over: its connection must not fail (and count) a second time
    clearTimeout(this.connectTimer);
    if (this.pc) this.pc.close();
    this.pc = null;
    if (this.failures < this.maxAttempts) return this._again();
    clearTimeout(this.timer);
    this._set("failed"); // gave up: the caller offers the person a way to try again
  }

  _again(delay) {
    if (this.closed) return;
    clearTimeout(this.timer);
    clearTimeout(this.connectTimer);
    const wait = delay != null ? delay : Math.min(RETRY_MAX, RETRY_MIN * 2 ** this.attempt);
    this.attempt += 1;
    this.retryAt = Date.now() + wait;
    this._set("retrying");
    this.timer = setTimeout(() => {
      this._negotiate().catch((err) => this._failed(err));
    }, wait);
  }

  async stats() {
    if (!this.pc) return {};
    const report = await this.pc.getStats();
    const out = { state: this.state };
    report.forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") {
        out.framesDecoded = s.framesDecoded || 0;
        out.framesReceived = s.framesReceived || 0;
        out.framesPerSecond = s.framesPerSecond || 0;
        out.bytesReceived = s.bytesReceived || 0;
        out.freezeCount = s.freezeCount || 0;
        out.frameWidth = s.frameWidth;
        out.frameHeight = s.frameHeight;
      } else if (s.type === "outbound-rtp" && s.kind === "video") {
        out.framesSent = s.framesSent || 0;
        out.bytesSent = s.bytesSent || 0;
      }
    });
    return out;
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.connectTimer);
    this.live.off("hello", this._onHello);
    this.live.send({ type: "media_close", session_id: this.sessionId, request_id: this.requestId });
    if (this.pc) this.pc.close();
    this.pc = null;
    this.state = "closed";
  }
}

function handle(peer) {
  return {
    close: () => peer.close(),
    stats: () => peer.stats(),
    get state() {
      return peer.state;
    },
    get error() {
      return peer.lastError;
    },
    /** the attempt under way or next (1 = the first), out of maxAttempts */
    get attempt() {
      return peer.failures + 1;
    },
    get maxAttempts() {
      return peer.maxAttempts;
    },
    get retryAt() {
      return peer.retryAt;
    },
  };
}

function receiver(videoEl) {
  return {
    build(pc) {
      for (const kind of ["video", "audio"]) preferCodecs(pc.addTransceiver(kind, { direction: "recvonly" }), kind);
    },
    onTrack(_stream, track) {
      if (!videoEl) return;
      const current = videoEl.srcObject instanceof MediaStream ? videoEl.srcObject : new MediaStream();
      for (const old of current.getTracks().filter((t) => t.kind === track.kind)) current.removeTrack(old);
      current.addTrack(track);
      if (videoEl.srcObject !== current) videoEl.srcObject = current;
      const played = videoEl.play && videoEl.play();
      if (played && played.catch) played.catch(() => {}); // autoplay rules: muted plays
    },
  };
}

// The program of a session in videoEl. A site's screen never gets its own site back.
export async function viewProgram(live, sessionId, videoEl, options = {}) {
  const peer = new KeptPeer(live, sessionId, "view", {
    requestId: options.requestId || requestId("view"),
    iceServers: options.iceServers,
    maxAttempts: options.maxAttempts,
    onState: options.onState,
    ...receiver(videoEl),
  });
  await peer.start();
  return handle(peer);
}

// One site's return feed (a tile of the wall): costs the server only while it is open.
export async function viewSite(live, sessionId, siteId, videoEl, options = {}) {
  const peer = new KeptPeer(live, sessionId, "site", {
    requestId: options.requestId || requestId(`site${siteId}`),
    siteId,
    iceServers: options.iceServers,
    ...receiver(videoEl),
  });
  await peer.start();
  return handle(peer);
}

// Slides and faces stay sharp: under load lower the frame rate, not the picture size.
function keepResolution(sender) {
  try {
    const params = sender.getParameters();
    params.degradationPreference = "maintain-resolution";
    const done = sender.setParameters(params);
    if (done && done.catch) done.catch(() => {});
  } catch (_err) {
    /* not supported: the browser's default applies */
  }
}

// The operator's camera and microphone (a MediaStream from getUserMedia) as the main classroom.
export async function publishCamera(live, sessionId, stream, options = {}) {
  const peer = new KeptPeer(live, sessionId, "publish", {
    requestId: "publish",
    iceServers: options.iceServers,
    maxAttempts: options.maxAttempts,
    onState: options.onState,
    build(pc) {
      for (const track of stream.getTracks()) {
        const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
        preferCodecs(transceiver, track.kind);
        if (track.kind === "video") keepResolution(transceiver.sender);
      }
    },
  });
  await peer.start();
  return handle(peer);
}
