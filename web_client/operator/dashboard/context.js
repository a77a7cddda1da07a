// @ts-check
// The live dashboard's shared state and the context every panel of it is given: one object,
// built by dashboard.js, passed explicitly (no panel reaches into another's variables).
import { clear } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";

/**
 * One site's tile data.
 * @typedef {object} DashSite
 * @property {number} id
 * @property {string} state "online" | "degraded" | "offline", or "unknown" before the presence snapshot
 * @property {string} reason
 * @property {number} lastBeat epoch seconds of the last sign of life
 * @property {any} health the last health report
 * @property {number} [healthAt] epoch seconds (this clock) when it came, or was found live at load
 * @property {any} screen the screen page's last playback report
 * @property {number|null} present
 * @property {number|null} expected
 * @property {number} [since] epoch seconds of the last presence change
 */

/**
 * What the dashboard knows, read over REST and kept current by live events.
 * @typedef {object} DashState
 * @property {any} session
 * @property {Map<number, DashSite>} sites
 * @property {Map<number, {state?: string, lastBeat?: number, health?: any, screen?: any}>} presence the latest snapshot, every site
 * @property {boolean} presenceKnown the presence snapshot came (a site missing from it is offline)
 * @property {Map<number, string>} siteNames
 * @property {any[]} questions
 * @property {any[]} queue
 * @property {any} floor
 * @property {number} floorFetchedAt performance.now() of the last floor read
 * @property {any[]} rollcalls
 * @property {any[]} polls
 * @property {any} [broadcast]
 * @property {any} [qaSettings]
 * @property {any} [totals]
 * @property {boolean} canManage
 * @property {boolean} thumbs
 * @property {boolean} destroyed
 * @property {number} headcountAt Date.now() of the last load of the counts
 */

/**
 * The context each panel is built with.
 * @typedef {object} Dash
 * @property {number} sessionId
 * @property {string} topic "session:<id>"
 * @property {import("/static/shared/live_events.js").LiveHub} hub
 * @property {DashState} st
 * @property {(...groups: string[]) => void} schedule reload these groups soon (at most every 120 ms)
 * @property {(id: number|string) => string} siteName
 * @property {() => Promise<any>} loadMedia shared/media.js, or null where it cannot load
 * @property {() => void} renderWall every tile again (set by the wall panel)
 * @property {() => void} renderFloor the floor holder and countdown again (set by the floor panel)
 */

/**
 * What a tile says of its site: its presence, except for the main classroom without its agent
 * while the broadcast's origin is the console's camera ("main", publishing): that room is live.
 * @param {any} broadcast GET /broadcast
 * @param {number} id
 * @param {string} state the site's presence
 */
export function tileState(broadcast, id, state) {
  const b = broadcast;
  const fromConsole = Boolean(b && b.live && b.source === "main" && b.main_site_id === id && b.origin_publishing === true);
  return (state === "offline" || state === "unknown") && fromConsole ? "publishing" : state;
}

/**
 * A fresh state, or (the language switch) a copy of what the view before knew: the new view
 * draws it at once, in the new language, while its loads refresh it. A copy: the old view's
 * loads still in flight write into the old state, never into this one.
 * @param {DashState | null} [from]
 * @returns {DashState}
 */
export function createState(from = null) {
  if (from) {
    const sites = new Map([...from.sites].map(([id, site]) => [id, { ...site }]));
    return { ...from, sites, presence: new Map(from.presence), siteNames: new Map(from.siteNames), destroyed: false };
  }
  return {
    session: null,
    sites: new Map(),
    presence: new Map(),
    presenceKnown: false,
    siteNames: new Map(),
    questions: [],
    queue: [],
    floor: null,
    floorFetchedAt: 0,
    rollcalls: [],
    polls: [],
    canManage: true,
    thumbs: true,
    destroyed: false,
    headcountAt: 0,
  };
}

/**
 * Re-render a container while keeping keyboard focus on the "same" control (data-key).
 * @param {HTMLElement} container
 * @param {() => Node | null} build
 */
export function rerender(container, build) {
  const active = /** @type {HTMLElement | null} */ (document.activeElement);
  const key = active && container.contains(active) ? active.dataset.key : null;
  clear(container);
  const out = build();
  if (out) container.appendChild(out);
  if (key) {
    const again = /** @type {HTMLElement | null} */ (container.querySelector(`[data-key="${CSS.escape(key)}"]`));
    if (again) again.focus();
  }
}

/**
 * Write a node's text only when it changed (no layout work for the same text).
 * @param {Node} node
 * @param {string} text
 */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * The name of a site by id, or "site N" while the names are not loaded.
 * @param {DashState} st
 * @param {number|string} id
 */
export function siteNameIn(st, id) {
  return st.siteNames.get(Number(id)) || t("wall.siteN", { id });
}
