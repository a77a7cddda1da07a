// @ts-check
// The room's side of the site screen: play the programme with sound (one tap where the
// browser blocks sound), tell the server what the screen really shows, raise the room's hand
// and name the site that has the floor. Shares the page's state object (app.js).
import { $ } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, errorText } from "/static/shared/api.js";

let state = null;
let onNames = () => {};

/** Wire the room's controls to the page's state; onNamesLoaded re-renders the prompts. */
export function initRoom(pageState, onNamesLoaded) {
  state = pageState;
  onNames = onNamesLoaded;
  const video = $("#program");
  video.addEventListener("loadedmetadata", () => tryPlay());
  video.addEventListener("volumechange", renderUnmute);
  countFrames(video);
  $("#unmute").addEventListener("click", unmute);
  $("#raise-hand").addEventListener("click", toggleHand);
}

// ---------------------------------------------------------------- sound and playback report

export const REPORT_MS = 5000; // as an agent's heartbeat (server/core/screen.py)

function hasAudio(video) {
  const stream = video.srcObject;
  return Boolean(stream && stream.getAudioTracks && stream.getAudioTracks().some((tr) => tr.readyState === "live"));
}

/** Play with sound; where the browser blocks sound without a tap, play muted and offer the tap. */
export async function tryPlay() {
  const video = $("#program");
  if (!video.srcObject) return;
  if (!state.soundBlocked) video.muted = false;
  try {
    await video.play();
  } catch (err) {
    if (err instanceof DOMException && err.name === "NotAllowedError" && !video.muted) {
      state.soundBlocked = true;
      video.muted = true;
      await video.play().catch(() => {});
    }
  }
  renderUnmute();
}

export function keepPlaying() {
  const video = $("#program");
  if (video.srcObject && video.paused && !state.playing) {
    state.playing = true;
    tryPlay().finally(() => {
      state.playing = false;
    });
  }
  renderUnmute();
}

function renderUnmute() {
  const video = $("#program");
  $("#unmute").hidden = !(video.srcObject && video.muted && hasAudio(video));
}

function unmute() {
  const video = $("#program");
  state.soundBlocked = false;
  video.muted = false;
  video.volume = 1;
  video.play().catch(() => {}); // inside the tap: allowed
  renderUnmute();
}

function countFrames(video) {
  if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
  state.frames.rvfc = true;
  const step = () => {
    state.frames.count += 1;
    video.requestVideoFrameCallback(step);
  };
  video.requestVideoFrameCallback(step);
}

function framesShown(video) {
  if (state.frames.rvfc) return state.frames.count;
  const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality().totalVideoFrames : video.webkitDecodedFrameCount || 0;
  if (q < state.frames.lastQ) state.frames.base += state.frames.lastQ; // a new stream restarts the count
  state.frames.lastQ = q;
  return state.frames.base + q;
}

/** Tell the server what this screen really shows (the operator's wall shows it). */
export async function reportPlayback() {
  if (!state.site) return;
  const video = $("#program");
  const stream = video.srcObject;
  const body = {
    attached: Boolean(stream && stream.getVideoTracks && stream.getVideoTracks().length),
    paused: video.paused,
    frames: framesShown(video),
    width: video.videoWidth || 0,
    height: video.videoHeight || 0,
    sound: !hasAudio(video) ? "none" : video.muted || video.volume === 0 ? "muted" : "on",
  };
  if (state.session) body.session_id = state.session.id;
  try {
    await api.post("/site/screen-status", body);
  } catch (err) {
    console.warn("playback report not sent", err);
  }
}

// ---------------------------------------------------------------- the room asks for the floor

export async function loadSiteNames(sessionId) {
  try {
    const answer = await api.get(`/sessions/${sessionId}/site-names`);
    if (!state.session || state.session.id !== sessionId) return;
    state.siteNames = new Map(answer.items.map((s) => [s.id, s.name]));
    onNames();
  } catch (err) {
    console.warn(err);
  }
}

export function floorOther(siteId) {
  const name = state.siteNames.get(siteId);
  return name ? t("prompt.floor_named", { site: name }) : t("prompt.floor_other");
}

export function renderHand() {
  const btn = $("#raise-hand");
  const live = Boolean(state.session && state.session.status === "live");
  const speaking = Boolean(state.floor && state.site && state.floor.site_id === state.site.id);
  btn.hidden = !live || speaking;
  btn.setAttribute("aria-pressed", state.handUp ? "true" : "false");
  btn.textContent = t(state.handUp ? "hand.lower" : "hand.raise");
  $("#hand-note").textContent = live && state.handUp ? t("hand.raised") : "";
}

async function toggleHand() {
  if (!state.session) return;
  const btn = $("#raise-hand");
  const raise = !state.handUp;
  btn.disabled = true;
  try {
    await api.post(`/sessions/${state.session.id}/floor/${raise ? "raise" : "lower"}`);
    state.handUp = raise;
    btn.disabled = false;
    renderHand();
  } catch (err) {
    btn.disabled = false;
    renderHand();
    $("#hand-note").textContent = t("hand.failed", { error: errorText(err) });
  }
}
