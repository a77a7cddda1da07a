// @ts-check
// The floor card: which room speaks (mine, a named one, another) and for how long.
import { $ } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { currentSession, state } from "./context.js";

// The names of the session's sites: the floor card says which one speaks.
/** @type {{sessionId: number|null, names: Map<number, string>}} */
const floorNames = { sessionId: null, names: new Map() };
/** @type {ReturnType<typeof setTimeout> | undefined} */
let floorTimer;

export async function loadFloor() {
  if (!state.sessionId) return;
  if (floorNames.sessionId !== state.sessionId) {
    try {
      const sites = await api.get(`/sessions/${state.sessionId}/site-names`);
      floorNames.sessionId = state.sessionId;
      floorNames.names = new Map(sites.items.map((/** @type {{id: number, name: string}} */ s) => [s.id, s.name]));
    } catch (_err) {
      /* "another room" then */
    }
  }
  const answer = await api.get(`/sessions/${state.sessionId}/floor`);
  const holder = answer.holder;
  state.floor = holder
    ? { site_id: holder.site_id, until: holder.remaining_seconds == null ? null : Date.now() + holder.remaining_seconds * 1000 }
    : null;
  renderFloor();
}

/** @param {any} data a "floor_granted" event */
export function floorGranted(data) {
  state.floor = { site_id: data.site_id, until: data.seconds ? Date.now() + data.seconds * 1000 : null };
  renderFloor();
}

/** @param {any} data a "floor_returned" event */
export function floorReturned(data) {
  if (!state.floor || state.floor.site_id === data.site_id) state.floor = null;
  renderFloor();
}

export function renderFloor() {
  const card = $("#floor-card");
  const floor = state.floor;
  clearTimeout(floorTimer);
  if (floor && floor.until && floor.until <= Date.now()) state.floor = null;
  card.hidden = !state.floor;
  if (!floor || !state.floor) return;
  const session = currentSession();
  const mine = session && session.site_id === floor.site_id;
  const named = floorNames.sessionId === state.sessionId ? floorNames.names.get(floor.site_id) : null;
  const text = [mine ? t("floor.mine") : named ? t("floor.named", { site: named }) : t("floor.other")];
  if (floor.until) {
    text.push(" · ", t("floor.left", { s: Math.max(0, Math.ceil((floor.until - Date.now()) / 1000)) }));
    floorTimer = setTimeout(renderFloor, 1000);
  }
  $("#floor-text").textContent = text.join("");
}
