// The live session dashboard: broadcast, site wall, moderation + floor queue, roll call, polls.
// State comes from REST reads; the live socket (topics presence, health, session:<id>) keeps it
// current, and any resync or reconnect reloads it from REST, so a server restart heals itself.
// Each panel lives in dashboard/ and is built with one context object (dashboard/context.js);
// this module assembles them, runs the reloads and dispatches the live events.
import { h, clear } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, errorText } from "/static/shared/api.js";
import "./media_messages.js";
import { flashError } from "./ui.js";
import { checkinGuardPanel } from "./checkin_guard.js";
import { createState, siteNameIn } from "./dashboard/context.js";
import { headPanel } from "./dashboard/head.js";
import { broadcastPanel } from "./dashboard/broadcast.js";
import { wallPanel } from "./dashboard/wall.js";
import { floorPanel } from "./dashboard/floor.js";
import { questionsPanel } from "./dashboard/questions.js";
import { rollcallsPanel } from "./dashboard/rollcalls.js";
import { pollsPanel } from "./dashboard/polls.js";

const GROUPS = ["session", "questions", "queue", "floor", "rollcalls", "polls", "headcount", "broadcast", "qaSettings"];

/** shared/media.js on first use (it may be missing: the tiles then show text only). */
function mediaLoader() {
  /** @type {any} */
  let mod = null;
  let tried = false;
  return async () => {
    if (tried) return mod;
    tried = true;
    try {
      mod = await import("/static/shared/media.js");
    } catch (_err) {
      mod = null;
    }
    return mod;
  };
}

/**
 * @param {HTMLElement} root
 * @param {number} sessionId
 * @param {import("/static/shared/live_events.js").LiveHub} hub
 */
export async function dashboardView(root, sessionId, hub) {
  const st = createState();
  const topic = `session:${sessionId}`;

  // ---- reloads: a group named here is read again within 120 ms, bursts merged -----------------
  /** @type {Record<string, () => Promise<void>>} */
  const loaders = {};
  /** @type {Set<string>} */
  const pending = new Set();
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  /** @param {string[]} groups */
  function schedule(...groups) {
    for (const g of groups) pending.add(g);
    if (timer) return;
    timer = setTimeout(async () => {
      timer = null;
      const now = [...pending];
      pending.clear();
      await Promise.all(
        now.map(async (g) => {
          try {
            await loaders[g]();
          } catch (err) {
            if (!st.destroyed) flashError(err);
          }
        }),
      );
    }, 120);
  }

  /** @type {import("./dashboard/context.js").Dash} */
  const ctx = {
    sessionId,
    topic,
    hub,
    st,
    schedule,
    siteName: (id) => siteNameIn(st, id),
    loadMedia: mediaLoader(),
    renderWall: () => {},
    renderFloor: () => {},
  };

  // ---- the panels ------------------------------------------------------------------------------
  const floorSeconds = /** @type {HTMLInputElement} */ (h("input", { type: "number", min: "1", max: "86400", value: "120", id: "floor-seconds", class: "short" }));
  const head = headPanel(ctx);
  const broadcast = broadcastPanel(ctx);
  const wall = wallPanel(ctx, floorSeconds);
  const floor = floorPanel(ctx, floorSeconds);
  const questions = questionsPanel(ctx);
  const rollcalls = rollcallsPanel(ctx);
  const polls = pollsPanel(ctx);
  const guard = checkinGuardPanel(sessionId, hub); // wrong check-in codes + check-in scope
  ctx.renderWall = wall.render;
  ctx.renderFloor = floor.renderFloor;

  Object.assign(
    loaders,
    {
      session: async () => {
        st.session = await api.get(`/sessions/${sessionId}`);
        for (const id of st.session.site_ids) {
          if (st.sites.has(id)) continue;
          // The presence snapshot may have arrived before the session did: start from it.
          const known = st.presence.get(id) || {};
          st.sites.set(id, { id, state: known.state || "offline", reason: "", lastBeat: known.lastBeat || 0, health: known.health || null, screen: known.screen || null, present: null, expected: null });
        }
        head.render();
        broadcast.render();
        wall.render();
      },
      broadcast: broadcast.load,
    },
    wall.loaders,
    floor.loaders,
    questions.loaders,
    rollcalls.loaders,
    polls.loaders,
  );

  /**
   * @param {string} titleKey
   * @param {string} id
   * @param {...(Node|Node[])} children
   */
  const panel = (titleKey, id, ...children) =>
    h("section", { class: "panel", id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, t(titleKey)), ...children);

  root.appendChild(
    h(
      "div",
      { class: "dashboard" },
      head.el,
      panel("broadcast.title", "p-broadcast", broadcast.el),
      panel("wall.title", "p-wall", wall.el),
      h("div", { class: "cols" }, panel("floor.queueTitle", "p-queue", floor.el), panel("qa.title", "p-qa", questions.el)),
      h("div", { class: "cols" }, panel("roll.title", "p-roll", rollcalls.el), panel("poll.title", "p-poll", polls.el)),
      panel("guard.title", "p-guard", guard.el),
    ),
  );

  async function loadSiteNames() {
    try {
      const sites = await api.get("/sites", { limit: 500 });
      for (const s of sites.items) st.siteNames.set(s.id, s.name);
    } catch (err) {
      flashError(err);
    }
  }

  // ---- live events --------------------------------------------------------------------------
  /** @param {import("/static/shared/live_events.js").LiveMessage} m */
  function onLive(m) {
    if (st.destroyed) return;
    if (m.topic === "presence") {
      if (m.type === "resync") wall.presenceResync(m.snapshot);
      else if (m.kind === "presence") wall.presenceEvent(m.data);
      return;
    }
    if (m.topic === "health") {
      if (m.type === "event") wall.healthEvent(m.kind || "", m.data);
      return;
    }
    if (m.topic !== topic) return;
    if (m.type === "resync") {
      schedule(...GROUPS);
      return;
    }
    const kind = m.kind || "";
    if (kind.startsWith("question")) schedule("questions", "queue");
    else if (kind.startsWith("floor")) schedule("floor", "queue");
    else if (kind.startsWith("roll_call")) rollcalls.onEvent(m.data);
    else if (kind === "poll_tally") polls.onTally(m.data);
    else if (kind.startsWith("poll")) schedule("polls");
    else if (kind.startsWith("session")) schedule("session", "headcount", "broadcast");
    else if (kind.startsWith("broadcast") || kind === "program_changed" || kind === "relays_changed") schedule("broadcast");
    else if (kind.startsWith("checkin")) wall.headcountSoon(); // someone checked in/out or was marked
    else if (kind.startsWith("media")) schedule("headcount");
    else schedule(...GROUPS);
  }

  let wasClosed = false;
  /** @param {string} s */
  function onConn(s) {
    if (s === "open" && wasClosed) schedule(...GROUPS);
    wasClosed = s !== "open";
  }

  hub.listeners.add(onLive);
  hub.stateListeners.add(onConn);
  const socket = hub.start();
  socket.subscribe(["presence", "health", topic]);

  const ticker = setInterval(() => {
    wall.tick();
    floor.tick();
  }, 1000);
  const headcountTimer = setInterval(() => schedule("headcount"), 15000);
  // A live broadcast: is its origin still sending? (a camera unplugged, an agent gone)
  const broadcastTimer = setInterval(() => {
    if (st.broadcast && st.broadcast.live) schedule("broadcast");
  }, 5000);

  try {
    await loadSiteNames();
    await loaders.session();
  } catch (err) {
    clear(root).appendChild(h("p", { class: "error", role: "alert" }, errorText(err)));
  }
  schedule("questions", "queue", "floor", "rollcalls", "polls", "headcount", "broadcast", "qaSettings", "presenceHistory");

  return {
    destroy() {
      st.destroyed = true;
      clearInterval(ticker);
      clearInterval(headcountTimer);
      clearInterval(broadcastTimer);
      wall.destroy();
      broadcast.destroy();
      guard.destroy();
      hub.listeners.delete(onLive);
      hub.stateListeners.delete(onConn);
      if (hub.socket) hub.socket.unsubscribe(["presence", "health", topic]);
    },
  };
}
