// @ts-check
// The site wall: one tile per site of the session (presence, floor, hand up, headcount,
// stream, screen playback, last heartbeat, since when), its summary line, return-feed
// thumbnails, and the presence / health live events that keep the tiles current.
import { h, clear } from "/static/shared/dom.js";
import { t, getLang } from "/static/shared/i18n.js";
import { api, ApiError } from "/static/shared/api.js";
import { ago, button, field, fmtTime } from "../ui.js";
import { rerender, setText, tileState } from "./context.js";
import { returnFeeds } from "./feeds.js";
import { grantFloor, keepingFloorAsk, revokeFloor } from "./floor.js";

const SCREEN_STALE_S = 15; // a screen page reports every 5 s: three missed reports (server/core/screen.py)
const AGENT_SILENT_S = 15; // an agent beats every 5 s: the presence rule's offline limit (server/core/presence.py)
const HEADCOUNT_GAP = 1000; // check-in events: the counts reload at most this often (ms)
const FACT_LABELS = { headcount: "headcount", stream: "stream", screen: "screen", beat: "heartbeat", since: "since" };

/**
 * A tile and the parts an update writes to.
 * @typedef {object} TileRef
 * @property {HTMLElement} tile
 * @property {HTMLElement} name
 * @property {HTMLElement} pills
 * @property {Record<string, HTMLElement>} facts
 * @property {HTMLElement} dl
 * @property {HTMLElement} actions
 * @property {string} key what the pills and actions were drawn for
 */

/**
 * The screen page's playback: its judged state, or "silent" when its reports stopped.
 * @param {any} report
 */
function screenState(report) {
  if (!report) return "none";
  return Date.now() / 1000 - report.at > SCREEN_STALE_S ? "silent" : report.state;
}

/**
 * @param {any} report
 * @param {string} state
 */
function screenText(report, state) {
  if (state === "none") return "—";
  const parts = [t("screen.state." + state)];
  if (state === "playing") {
    if (report.fps) parts.push(`${Math.round(report.fps)} fps`);
    parts.push(t("screen.sound." + report.sound));
  }
  return parts.join(" · ");
}

/**
 * The last sign of life: "n s ago", "never", or — before the presence snapshot said anything.
 * @param {import("./context.js").DashSite} site
 */
function beatText(site) {
  return site.state === "unknown" && !site.lastBeat ? "—" : ago(site.lastBeat);
}

/**
 * @param {import("./context.js").Dash} ctx
 * @param {HTMLInputElement} floorSeconds the time limit a grant gives
 */
export function wallPanel(ctx, floorSeconds) {
  const { st, sessionId, siteName } = ctx;
  const wall = h("div", { class: "wall", role: "list", "aria-label": t("wall.title") });
  const summary = h("p", { class: "wall-summary", "aria-live": "polite" });
  const thumbsToggle = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "thumbs-toggle", checked: st.thumbs }));
  const el = [
    h(
      "div",
      { class: "toolbar" },
      h("label", { for: "thumbs-toggle", class: "check" }, thumbsToggle, " ", t("wall.thumbs")),
      field(t("floor.seconds"), floorSeconds),
    ),
    summary,
    wall,
  ];

  // Each tile keeps references to its parts; an update writes only what changed, so hundreds
  // of heartbeats a minute cost little layout work.
  /** @type {Map<number, TileRef>} */
  const tiles = new Map();

  const feeds = returnFeeds(ctx, wall, (id) => {
    const ref = tiles.get(id);
    const site = st.sites.get(id);
    if (ref && site) setText(ref.facts.beat, beatText(site));
  });
  thumbsToggle.addEventListener("change", () => {
    st.thumbs = thumbsToggle.checked;
    feeds.sync();
  });

  /** @param {import("./context.js").DashSite} site */
  function tileFor(site) {
    let ref = tiles.get(site.id);
    if (ref) return ref.tile;
    /** @type {Record<string, HTMLElement>} */
    const facts = {};
    const dl = h("dl", { class: "tile-facts" });
    for (const key of ["headcount", "stream", "screen", "beat", "since"]) {
      facts[key] = h("dd", { class: `f-${key}` });
      dl.append(h("dt", { "data-fact": key }), facts[key]);
    }
    const name = h("h3", { id: `tile-${site.id}-h`, class: "tile-name" });
    const pills = h("p", { class: "tile-state" });
    const actions = h("div", { class: "tile-actions" });
    const tile = h(
      "article",
      { class: "tile", role: "listitem", "data-site-id": String(site.id), "aria-labelledby": `tile-${site.id}-h` },
      name,
      h("video", { class: "thumb", muted: true, playsinline: true, autoplay: true, hidden: true, "aria-label": t("wall.feed") }),
      pills,
      dl,
      actions,
    );
    ref = { tile, name, pills, facts, dl, actions, key: "" };
    tiles.set(site.id, ref);
    feeds.observe(tile);
    return tile;
  }

  /**
   * @param {number} id
   * @param {number|null} holder the site with the floor
   * @param {Set<number>} hands the sites with a hand up
   */
  function updateTile(id, holder, hands) {
    const site = st.sites.get(id);
    if (!site) return;
    tileFor(site);
    const ref = /** @type {TileRef} */ (tiles.get(id));
    const tile = ref.tile;
    const state = tileState(st.broadcast, id, site.state);
    if (tile.dataset.state !== state) tile.dataset.state = state;
    const hasFloor = holder === id;
    const handUp = hands.has(id);
    tile.classList.toggle("has-floor", hasFloor);
    tile.classList.toggle("hand-up", handUp);
    setText(ref.name, siteName(id));
    const key = `${state}|${hasFloor}|${handUp}|${getLang()}`;
    if (ref.key !== key) {
      ref.key = key;
      clear(ref.pills).append(
        state === "publishing"
          ? h("span", { class: "pill ps-online" }, t("wall.consoleLive"))
          : h("span", { class: `pill ps-${state}` }, t("presence." + state)),
        hasFloor ? h("span", { class: "pill floor-pill" }, t("wall.hasFloor")) : "",
        handUp ? h("span", { class: "pill hand-pill" }, t("wall.handUp")) : "",
      );
      for (const dt of ref.dl.querySelectorAll("dt")) dt.textContent = t(`wall.${FACT_LABELS[/** @type {keyof FACT_LABELS} */ (dt.dataset.fact)]}`);
      keepingFloorAsk(ref.actions, () =>
        rerender(ref.actions, () =>
          hasFloor
            ? button(t("floor.revoke"), (/** @type {Event} */ ev) => revokeFloor(ctx, ev.currentTarget), { "data-key": `revoke-${id}`, class: "danger small" })
            : button(t("floor.grant"), (/** @type {Event} */ ev) => grantFloor(ctx, ev.currentTarget, id, floorSeconds), { "data-key": `grant-${id}`, "data-grant-site": String(id), class: "small", "aria-label": t("floor.grantTo", { site: siteName(id) }) }),
        ),
      );
    }
    const health = site.health || {};
    const stream = health.stream && health.stream.state ? health.stream.state : null;
    setText(ref.facts.headcount, site.expected == null ? "—" : `${site.present} / ${site.expected}`);
    const relay = st.broadcast && st.broadcast.upstream ? st.broadcast.upstream[String(id)] : null;
    const silent = agentSilent(site);
    if (tile.dataset.agentSilent !== String(silent)) tile.dataset.agentSilent = String(silent);
    // a dead agent's last report is not its stream now (its room may stay present by its screen)
    const received = silent ? t("stream.agentSilent") : stream ? t("stream." + stream) + (health.rtt_ms != null ? ` · ${Math.round(health.rtt_ms)} ms` : "") : "—";
    setText(
      ref.facts.stream,
      (state === "publishing" ? t("wall.consoleStream") : received) + (relay ? ` · ${t("wall.via", { site: siteName(relay) })}` : ""),
    );
    const screen = screenState(site.screen);
    if (tile.dataset.screen !== screen) tile.dataset.screen = screen;
    setText(ref.facts.screen, screenText(site.screen, screen));
    setText(ref.facts.beat, beatText(site));
    setText(ref.facts.since, site.since ? `${fmtTime(new Date(site.since * 1000).toISOString())}${site.reason ? " · " + t("reason." + site.reason) : ""}` : "—");
  }

  /** @returns {[number|null, Set<number>]} the site with the floor, the sites with a hand up */
  function floorMarks() {
    const holder = st.floor && st.floor.holder ? st.floor.holder.site_id : null;
    const hands = new Set(((st.floor && st.floor.requests) || []).map((/** @type {any} */ r) => r.site_id));
    return [holder, hands];
  }

  function renderSummary() {
    const ids = st.session ? st.session.site_ids : [];
    let online = 0;
    let degraded = 0;
    let unknown = 0;
    for (const id of ids) {
      const presence = st.sites.get(id)?.state;
      const state = presence ? tileState(st.broadcast, id, presence) : presence;
      if (state === "online" || state === "publishing") online += 1;
      if (state === "degraded") degraded += 1;
      if (state === "unknown") unknown += 1;
    }
    const totals = st.totals;
    const known = unknown === 0; // before the presence snapshot no count is said
    const text = t("wall.summary", {
      online: known ? online : "—",
      degraded: known ? degraded : "—",
      offline: known ? ids.length - online - degraded : "—",
      present: totals ? totals.present : "—",
      expected: totals ? totals.expected : "—",
    });
    if (summary.textContent !== text) summary.textContent = text; // a live region: only real changes
  }

  /** Every tile, in the session's order: after loads (not for each heartbeat). */
  function render() {
    if (!st.session) return;
    const [holder, hands] = floorMarks();
    st.session.site_ids.forEach((/** @type {number} */ id, /** @type {number} */ index) => {
      const tile = tileFor(/** @type {import("./context.js").DashSite} */ (st.sites.get(id)));
      if (wall.children[index] !== tile) wall.insertBefore(tile, wall.children[index] || null);
      updateTile(id, holder, hands);
    });
    dirty.clear();
    renderSummary();
    feeds.sync();
  }

  // Heartbeats and presence changes of hundreds of sites: redraw only the changed tiles,
  // at most about five times a second.
  /** @type {Set<number>} */
  const dirty = new Set();
  /** @type {ReturnType<typeof setTimeout> | null} */
  let dirtyTimer = null;
  /** @param {number} id */
  function touch(id) {
    dirty.add(id);
    if (dirtyTimer) return;
    dirtyTimer = setTimeout(() => {
      dirtyTimer = null;
      if (st.destroyed || !st.session) return;
      const [holder, hands] = floorMarks();
      for (const sid of dirty) updateTile(sid, holder, hands);
      dirty.clear();
      renderSummary();
      feeds.sync();
    }, 200);
  }

  /**
   * The site's agent reported its health once and has been silent since (killed, unplugged).
   * @param {import("./context.js").DashSite} site
   */
  function agentSilent(site) {
    return Boolean(site.health && site.healthAt && Date.now() / 1000 - site.healthAt > AGENT_SILENT_S);
  }

  /** Once a second: "n s ago" of the tiles on screen, and screens and agents gone silent. */
  function tick() {
    for (const [id, ref] of tiles) {
      if (!feeds.onScreen(id)) continue;
      const site = st.sites.get(id);
      if (site) setText(ref.facts.beat, beatText(site));
      if (site && site.screen && screenState(site.screen) !== ref.tile.dataset.screen) touch(id);
      if (site && String(agentSilent(site)) !== ref.tile.dataset.agentSilent) touch(id);
    }
  }

  // ---- live events of the topics "presence" and "health" --------------------------------------
  /**
   * The presence snapshot is the truth at (re)subscription, whether or not the session is
   * loaded yet: keep it for sites the session adds later, apply it to the tiles there are.
   * @param {any} snapshot
   */
  function presenceResync(snapshot) {
    st.presenceKnown = true;
    for (const site of st.sites.values()) if (site.state === "unknown") site.state = "offline"; // not in it: offline
    for (const s of (snapshot && snapshot.sites) || []) {
      st.siteNames.set(s.id, s.name);
      const known = { state: s.state, lastBeat: s.last_heartbeat || 0, health: s.health || null, screen: s.screen || null };
      st.presence.set(s.id, known);
      const site = st.sites.get(s.id);
      if (site) {
        site.state = known.state;
        site.lastBeat = Math.max(site.lastBeat, known.lastBeat);
        if (known.health) {
          site.health = known.health;
          site.healthAt = Date.now() / 1000; // a live agent's presence key holds it
        }
        if (known.screen) site.screen = known.screen;
      }
    }
    render();
  }

  /** @param {any} data a "presence" event: {site_id, state, reason, at} */
  function presenceEvent(data) {
    const id = Number(data.site_id);
    st.presence.set(id, { ...(st.presence.get(id) || {}), state: data.state });
    const site = st.sites.get(id);
    if (site) {
      site.state = data.state;
      site.reason = data.reason;
      site.since = data.at || Date.now() / 1000;
      if (data.state !== "offline") site.lastBeat = Math.max(site.lastBeat, data.at || 0);
      touch(site.id);
    }
  }

  /**
   * An event of the topic "health": a screen page's playback report, or a site's health.
   * @param {string} kind
   * @param {any} data
   */
  function healthEvent(kind, data) {
    if (kind === "screen") {
      const id = Number(data.site_id);
      st.presence.set(id, { ...(st.presence.get(id) || {}), screen: data });
      const site = st.sites.get(id);
      if (site) {
        site.screen = data;
        // a screen page's report is its site's heartbeat (a room without an agent)
        if (data.at) site.lastBeat = Math.max(site.lastBeat, data.at);
        touch(id);
      }
    } else {
      const site = st.sites.get(Number(data.site_id));
      if (site) {
        site.health = data;
        site.lastBeat = data.at || Date.now() / 1000;
        site.healthAt = Date.now() / 1000; // this clock: the operator's PC may be off the server's
        touch(site.id);
      }
    }
  }

  // ---- loaders --------------------------------------------------------------------------------
  async function loadPresenceHistory() {
    try {
      const data = await api.get(`/sessions/${sessionId}/presence`);
      for (const row of data.sites || []) {
        const site = st.sites.get(row.site_id);
        const last = row.intervals && row.intervals[row.intervals.length - 1];
        // The history is clipped to the session's window: before the session starts, an interval
        // "from" its scheduled start lies in the future and says nothing about when it changed.
        const from = last ? new Date(last.from).getTime() / 1000 : NaN;
        if (site && !site.since && from <= Date.now() / 1000) {
          site.since = from;
          site.reason = last.reason || ""; // why it changed, as a live change would say
        }
      }
      render();
    } catch (_err) {
      /* moderators may not read it; the live topic still drives the wall */
    }
  }

  async function loadHeadcount() {
    if (!st.canManage) return;
    st.headcountAt = Date.now();
    try {
      const report = await api.get(`/sessions/${sessionId}/report`);
      // a room nobody is expected in or checked into has no row: its count is known, 0 / 0
      for (const site of st.sites.values()) site.present = site.expected = 0;
      for (const row of report.by_site || []) {
        const site = st.sites.get(row.site_id);
        if (site) {
          site.present = row.present;
          site.expected = row.expected;
        }
      }
      st.totals = report.totals;
      render();
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) st.canManage = false;
      else throw err;
    }
  }

  // A burst of check-ins (a whole room typing the code) reloads the counts at most once a second.
  /** @type {ReturnType<typeof setTimeout> | null} */
  let headcountLater = null;
  function headcountSoon() {
    if (headcountLater) return;
    const wait = Math.max(0, st.headcountAt + HEADCOUNT_GAP - Date.now());
    headcountLater = setTimeout(() => {
      headcountLater = null;
      if (!st.destroyed) ctx.schedule("headcount");
    }, wait);
  }

  function destroy() {
    if (headcountLater) clearTimeout(headcountLater);
    feeds.destroy();
  }

  return {
    el,
    render,
    tick,
    presenceResync,
    presenceEvent,
    healthEvent,
    headcountSoon,
    loaders: { presenceHistory: loadPresenceHistory, headcount: loadHeadcount },
    destroy,
  };
}
