// @ts-check
// The programme video of the site screen: viewed over the page's live socket, asked for again
// (slowly, and at once when a broadcast starts), with "waiting" shown until it plays.
import { $ } from "/static/shared/dom.js";
import { t, getLang } from "/static/shared/i18n.js";
import { fmtDateTime } from "/static/shared/time.js";
import { state } from "./state.js";

export function stopMedia() {
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

/**
 * Ask for the session's programme (once per session; again after a failure, slowly).
 * @param {import("/static/shared/live_events.js").LiveHub} hub the page's live socket
 */
export async function startMedia(hub) {
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
        startMedia(hub);
      }
    }, state.mediaRetry);
  }
}

export function renderWaiting() {
  const video = $("#program");
  const playing = Boolean(video.srcObject) && !video.paused && video.readyState >= 2;
  $("#waiting").hidden = playing;
  $("#waiting-text").textContent = state.session ? t("video.waiting") : t("video.no_session");
  const next = !state.session && state.upcoming.length ? state.upcoming[0] : null;
  $("#waiting-sub").textContent = next
    ? t("video.next", { title: next.title || `#${next.id}`, time: fmtDateTime(next.starts_at, getLang()) })
    : "";
}
