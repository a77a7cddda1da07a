// @ts-check
// The site wall's return-feed thumbnails: a tile on screen plays its site's camera (at most
// MAX_FEEDS at once, each a WebRTC connection), only while the session broadcasts.
const MAX_FEEDS = 12; // return-feed thumbnails playing at once
const FEED_RETRY_MIN = 2000; // a refused return feed is asked for again after 2, 4, 8 ... s
const FEED_RETRY_MAX = 30000;

/**
 * @typedef {object} Feed
 * @property {{close(): void} | null} handle
 * @property {boolean} cancelled
 * @property {HTMLVideoElement} video
 */

/**
 * @param {import("./context.js").Dash} ctx
 * @param {HTMLElement} wall the tiles' container
 * @param {(siteId: number) => void} onVisible a tile came into view
 */
export function returnFeeds(ctx, wall, onVisible) {
  const { st, sessionId, hub } = ctx;
  /** @type {Map<number, Feed>} site id -> its playing (or asked for) feed */
  const feeds = new Map();
  /** @type {Map<number, number>} site id -> refused offers in a row */
  const failures = new Map();
  /** @type {Map<number, number>} site id -> Date.now() before which its feed is not asked for again */
  const retryAt = new Map();
  /** @type {Set<number>} the sites whose tiles are on screen */
  const visible = new Set();
  const observer =
    "IntersectionObserver" in window
      ? new IntersectionObserver((entries) => {
          for (const e of entries) {
            const id = Number(/** @type {HTMLElement} */ (e.target).dataset.siteId);
            if (e.isIntersecting) {
              visible.add(id);
              onVisible(id);
            } else visible.delete(id);
          }
          sync();
        })
      : null;

  // A tile's return feed exists only while the session broadcasts: none is asked for before
  // (the server refuses), a refused or failed one is dropped and asked for again after a pause,
  // and when the broadcast starts (or the live socket comes back) the tiles on screen ask.
  /**
   * @param {number} id
   * @param {Feed} feed
   */
  function dropFeed(id, feed) {
    if (feeds.get(id) === feed) feeds.delete(id);
    feed.cancelled = true;
    if (feed.handle) feed.handle.close();
    feed.video.hidden = true;
    feed.video.srcObject = null;
  }

  /**
   * @param {number} id
   * @param {Feed} feed
   */
  function feedRefused(id, feed) {
    if (feed.cancelled) return;
    dropFeed(id, feed);
    const wait = Math.min(FEED_RETRY_MAX, FEED_RETRY_MIN * 2 ** (failures.get(id) || 0));
    failures.set(id, (failures.get(id) || 0) + 1);
    retryAt.set(id, Date.now() + wait);
    setTimeout(sync, wait + 50);
  }

  async function sync() {
    if (st.destroyed) return;
    // live false: the server said there is no broadcast; unknown (not loaded, not readable): try
    const noBroadcast = Boolean(st.broadcast && !st.broadcast.error && st.broadcast.live === false);
    for (const [id, feed] of feeds) {
      const site = st.sites.get(id);
      if (noBroadcast || !st.thumbs || !visible.has(id) || !site || site.state === "offline") dropFeed(id, feed);
    }
    if (noBroadcast) {
      failures.clear();
      retryAt.clear();
    }
    if (!st.thumbs || noBroadcast) return;
    const now = Date.now();
    const room = MAX_FEEDS - feeds.size;
    const wanted = [...visible]
      .filter((id) => {
        const site = st.sites.get(id);
        return site && site.state !== "offline" && !feeds.has(id);
      })
      .filter((id) => !((retryAt.get(id) || 0) > now))
      .slice(0, Math.max(0, room));
    if (!wanted.length) return;
    const mod = await ctx.loadMedia();
    if (!mod || !mod.viewSite || st.destroyed) return;
    for (const id of wanted) {
      const tile = wall.querySelector(`[data-site-id="${id}"]`);
      const video = tile && tile.querySelector("video");
      if (!video || feeds.has(id)) continue;
      /** @type {Feed} */
      const feed = { handle: null, cancelled: false, video };
      feeds.set(id, feed);
      mod
        .viewSite(hub.socket, sessionId, id, video)
        .then((/** @type {{close(): void}} */ handle) => {
          if (feed.cancelled) return handle.close();
          feed.handle = handle;
          failures.delete(id);
          video.hidden = false;
        })
        .catch(() => feedRefused(id, feed)); // no return feed for this site now: text only
    }
  }

  /** @param {Element} tile */
  function observe(tile) {
    if (observer) observer.observe(tile);
  }

  /** Is this site's tile on screen? (every tile counts where IntersectionObserver is missing) @param {number} id */
  function onScreen(id) {
    return !observer || visible.has(id);
  }

  function destroy() {
    if (observer) observer.disconnect();
    for (const feed of feeds.values()) if (feed.handle) feed.handle.close();
    feeds.clear();
  }

  return { sync, observe, onScreen, destroy };
}
