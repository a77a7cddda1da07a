// @ts-check
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
import { TopicFollower } from "/static/shared/live_events.js";
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

/** @type {{sessionId: number, st: import("./dashboard/context.js").DashState} | null} */
let handOff = null; // what a view knew when the language changed, for the view that replaces it

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
  // The language switch draws the view again: it starts from what the view before knew (the
  // rooms' presence, the counts, the broadcast), never from nothing, and its loads refresh it.
  const before = handOff && handOff.sessionId === sessionId ? handOff.st : null;
  handOff = null;
  const st = createState(before);
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
          const state = known.state || (st.presenceKnown ? "offline" : "unknown"); // not before the snapshot
          st.sites.set(id, { id, state, reason: "", lastBeat: known.lastBeat || 0, health: known.health || null, healthAt: known.health ? Date.now() / 1000 : 0, screen: known.screen || null, present: null, expected: null });
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

  // ---- live events: the sites' presence and health, and the session's own topic -------------
  const presence = new TopicFollower(hub, {
    handlers: { presence: (data) => wall.presenceEvent(data) },
    onResync: (snapshot) => wall.presenceResync(snapshot),
  });
  const health = new TopicFollower(hub, { handlers: { "*": (data, kind) => wall.healthEvent(kind, data) } });
  const reloadAll = () => schedule(...GROUPS);
  // a session event reloads the part it concerns
  const sessionTopic = new TopicFollower(hub, {
    handlers: {
      "question*": () => schedule("questions", "queue"),
      "floor*": () => schedule("floor", "queue"),
      "roll_call*": (data) => rollcalls.onEvent(data), // a tally is applied at once
      poll_tally: (data) => polls.onTally(data),
      "poll*": () => schedule("polls"),
      "session*": () => schedule("session", "headcount", "broadcast"),
      "broadcast*": () => schedule("broadcast"),
      program_changed: () => schedule("broadcast"),
      relays_changed: () => schedule("broadcast"),
      publishing_changed: () => schedule("broadcast"),
      "checkin*": () => wall.headcountSoon(), // someone checked in/out or was marked
      "media*": () => schedule("headcount"),
      "*": reloadAll,
    },
    onResync: reloadAll,
  });

  // Every reconnect (also after a server restart) reloads everything.
  let wasClosed = false;
  /** @param {string} s */
  function onConn(s) {
    if (s === "open" && wasClosed) reloadAll();
    wasClosed = s !== "open";
  }

  hub.stateListeners.add(onConn);
  hub.start();
  presence.follow("presence");
  health.follow("health");
  sessionTopic.follow(topic);

  const ticker = setInterval(() => {
    wall.tick();
    floor.tick();
  }, 1000);
  const headcountTimer = setInterval(() => schedule("headcount"), 15000);
  // A live broadcast: is its origin still sending? (a camera unplugged, an agent gone)
  const broadcastTimer = setInterval(() => {
    if (st.broadcast && st.broadcast.live) schedule("broadcast");
  }, 5000);

  const view = {
    /** @param {string} [why] "language": the same view comes back at once, in the new language */
    destroy(why) {
      st.destroyed = true;
      clearInterval(ticker);
      clearInterval(headcountTimer);
      clearInterval(broadcastTimer);
      if (timer) clearTimeout(timer);
      wall.destroy();
      broadcast.destroy();
      guard.destroy();
      hub.stateListeners.delete(onConn);
      for (const follower of [presence, health, sessionTopic]) follower.close();
      if (why === "language" && st.session) handOff = { sessionId, st };
    },
  };

  if (before && before.session) {
    // Drawn in the same task as the old view went: no moment shows a wrong or an empty fact.
    head.render();
    broadcast.render();
    broadcast.renderState();
    wall.render();
    floor.renderFloor();
    schedule(...GROUPS, "presenceHistory");
    return view;
  }
  try {
    // The broadcast with the session: the main classroom's tile is first drawn knowing
    // whether this console broadcasts from it (never 离线 for a moment).
    await Promise.all([loadSiteNames(), broadcast.load()]);
    await loaders.session();
  } catch (err) {
    clear(root).appendChild(h("p", { class: "error", role: "alert" }, errorText(err)));
  }
  schedule("questions", "queue", "floor", "rollcalls", "polls", "headcount", "qaSettings", "presenceHistory");
  return view;
}
