// @ts-check
// The floor (which site speaks, for how long) and the moderator queue (hands up and
// questions in the order they were raised).
import { h } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { act, askInline, button, fmtTime } from "../ui.js";
import { rerender, tileState } from "./context.js";
import { moderate } from "./questions.js";

/**
 * @param {import("./context.js").Dash} ctx
 * @param {any} floor the answer of a floor read or change
 */
function floorIs(ctx, floor) {
  ctx.st.floor = floor;
  ctx.st.floorFetchedAt = performance.now();
  ctx.renderFloor();
  ctx.renderWall();
  ctx.schedule("queue");
}

/**
 * Give a site the floor, with the time limit typed in the wall's toolbar (if any).
 * @param {import("./context.js").Dash} ctx
 * @param {EventTarget | null} btn
 * @param {number} siteId
 * @param {HTMLInputElement} floorSeconds
 */
export async function grantFloor(ctx, btn, siteId, floorSeconds) {
  const seconds = Number(floorSeconds.value);
  /** @type {{site_id: number, time_limit?: number}} */
  const body = { site_id: siteId };
  if (seconds > 0) body.time_limit = seconds;
  const grant = (/** @type {EventTarget | null} */ control) =>
    act(control, async () => {
      floorIs(ctx, await api.post(`/sessions/${ctx.sessionId}/floor/grant`, body));
    }, t("floor.granted", { site: ctx.siteName(siteId) }));
  const site = ctx.st.sites.get(siteId);
  const anchor = /** @type {HTMLElement | null} */ (btn);
  if (!site || tileState(ctx.st.broadcast, siteId, site.state) !== "offline" || !anchor) {
    await grant(btn);
    return;
  }
  // An offline room (neither its agent nor its screen connected) would speak to nobody: the
  // grant is asked once more, beside the button (the server grants it: presence may lag a
  // room that is just reconnecting, and the operator decides).
  for (const old of document.querySelectorAll(".floor-ask")) old.remove();
  const box = h("div", { class: "floor-ask", "data-site-id": String(siteId) });
  anchor.after(box);
  askInline(box, t("floor.offlineAsk", { site: ctx.siteName(siteId) }), t("floor.offlineYes"), async (yes) => {
    await grant(yes);
    box.remove();
  }, { id: `floor-ask-${siteId}` });
}

/**
 * Draw ``container`` again and keep an open "give the floor anyway?" question: it goes back
 * beside the same site's grant button (a queue reload when another room raises its hand must
 * not take the operator's question away); it goes only when that button is gone.
 * @param {HTMLElement} container
 * @param {() => void} draw
 */
export function keepingFloorAsk(container, draw) {
  const asking = /** @type {HTMLElement | null} */ (container.querySelector(".floor-ask"));
  draw();
  if (!asking) return;
  const grant = container.querySelector(`[data-grant-site="${asking.dataset.siteId}"]`);
  if (grant) grant.after(asking);
}

/**
 * @param {import("./context.js").Dash} ctx
 * @param {EventTarget | null} btn
 */
export async function revokeFloor(ctx, btn) {
  await act(btn, async () => {
    floorIs(ctx, await api.post(`/sessions/${ctx.sessionId}/floor/revoke`));
  }, t("floor.revoked"));
}

/**
 * @param {import("./context.js").Dash} ctx
 * @param {HTMLInputElement} floorSeconds
 */
export function floorPanel(ctx, floorSeconds) {
  const { st, sessionId, siteName } = ctx;
  const floorBox = h("div", { class: "floor", "aria-live": "polite" });
  const queueBox = h("div", { class: "queue" });

  /** Seconds the holder has left (counted down locally since the last read), null: no limit. */
  function remaining() {
    const holder = st.floor && st.floor.holder;
    if (!holder || holder.remaining_seconds == null) return null;
    return Math.max(0, holder.remaining_seconds - (performance.now() - st.floorFetchedAt) / 1000);
  }

  function countdownText() {
    const left = remaining();
    if (left == null) return t("floor.noLimit");
    const s = Math.ceil(left);
    return t("floor.left", { m: Math.floor(s / 60), s: String(s % 60).padStart(2, "0") });
  }

  function renderFloor() {
    const holder = st.floor && st.floor.holder;
    rerender(floorBox, () =>
      holder
        ? h(
            "div",
            { class: "floor-holder", id: "floor-holder", "data-site-id": String(holder.site_id) },
            h("p", {}, t("floor.holder", { site: siteName(holder.site_id) })),
            h("p", { class: "countdown", id: "floor-countdown", "aria-live": "off" }, countdownText()),
            button(t("floor.revoke"), (/** @type {Event} */ ev) => revokeFloor(ctx, ev.currentTarget), { class: "danger", id: "floor-revoke", "data-key": "floor-revoke" }),
          )
        : h("p", { class: "note", id: "floor-holder" }, t("floor.main")),
    );
  }

  /** @param {any} item a queue entry: {kind: "question", question, site_id, raised_at} or a hand */
  function queueItem(item, /** @type {number} */ i) {
    return item.kind === "question"
      ? h(
          "li",
          { class: "q-item", "data-question-id": String(item.question.id) },
          h("span", { class: "pill" }, t("queue.question")),
          " ",
          h("span", { class: "q-text" }, item.question.text),
          h("small", { class: "note" }, ` · ${siteName(item.site_id)} · ${fmtTime(item.raised_at)} · ${t("qa.votes", { n: item.question.vote_count })}`),
          " ",
          button(t("qa.onAir"), (/** @type {Event} */ ev) => moderate(ctx, ev.currentTarget, item.question.id, "on-air"), { class: "small", "data-key": `qon-${item.question.id}` }),
        )
      : h(
          "li",
          { class: "hand-item", "data-site-id": String(item.site_id) },
          h("span", { class: "pill hand-pill" }, t("queue.hand")),
          " ",
          siteName(item.site_id),
          h("small", { class: "note" }, ` · ${fmtTime(item.raised_at)}`),
          " ",
          button(t("floor.grant"), (/** @type {Event} */ ev) => grantFloor(ctx, ev.currentTarget, item.site_id, floorSeconds), { class: "small", "data-key": `qgrant-${item.site_id}-${i}`, "data-grant-site": String(item.site_id) }),
        );
  }

  function renderQueue() {
    keepingFloorAsk(queueBox, () =>
      rerender(queueBox, () =>
        h(
          "div",
          {},
          h("h3", {}, t("floor.queue")),
          st.queue.length
            ? h("ol", { class: "queue-list", id: "queue-list" }, st.queue.map(queueItem))
            : h("p", { class: "note" }, t("queue.empty")),
        ),
      ),
    );
  }

  /** Once a second: the holder's countdown; at zero the server has taken the floor back. */
  function tick() {
    const cd = document.getElementById("floor-countdown");
    if (cd) {
      cd.textContent = countdownText();
      if (remaining() === 0) ctx.schedule("floor", "queue");
    }
  }

  const loaders = {
    floor: async () => {
      st.floor = await api.get(`/sessions/${sessionId}/floor`);
      st.floorFetchedAt = performance.now();
      renderFloor();
      ctx.renderWall();
    },
    queue: async () => {
      st.queue = (await api.get(`/sessions/${sessionId}/moderator-queue`)).items;
      renderQueue();
    },
  };

  return { el: [floorBox, queueBox], renderFloor, tick, loaders };
}
