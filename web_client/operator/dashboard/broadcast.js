// @ts-check
// The broadcast panel: what the rooms are shown (main classroom camera, a site, a recording),
// start / stop / preview, the operator's own camera as the main classroom, and whether the
// programme's origin really sends frames.
import { h, clear } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, errorText } from "/static/shared/api.js";
import { cameraControls, cameraErrorText } from "../camera.js";
import { act, button, field, fmtDateTime, fmtTime } from "../ui.js";

// The operator's own camera publication outlives the view that started it: switching the
// language or reading the report must not cut the broadcast. Only 停止直播, the broadcast
// ending, or the session's console publishing again replaces it.
/** @type {{sessionId: number|null, handle: {close(): void, state: string, attempt: number, maxAttempts: number} | null, notify: (() => void) | null}} */
const own = { sessionId: null, handle: null, notify: null }; // notify: the view on screen
// A camera publication that does not connect is offered again (1, 2, 4, 8 s apart, each
// attempt given 10 s to connect), then left to the person (重新推流).
const PUBLISH_ATTEMPTS = 5;
// A programme preview that does not connect is tried this many times, then given up (said so).
const PREVIEW_ATTEMPTS = 3;

/**
 * Why the preview did not connect, in the operator's words.
 * @param {any} err a MediaError (code) or another error
 */
function previewWhy(err) {
  const code = err && err.code;
  if (code === "media.timeout") return t("broadcast.previewNoAnswer");
  if (code === "media.connect_timeout" || code === "media.connect_failed") return t("broadcast.previewNoPath");
  const known = code ? t("err." + code) : "";
  return known && known !== "err." + code ? known : errorText(err);
}

/** @param {import("./context.js").Dash} ctx */
export function broadcastPanel(ctx) {
  const { sessionId, st, hub, siteName } = ctx;
  const el = h("div", { class: "broadcast" });
  /** @type {{close(): void} | null} the programme preview */
  let program = null;
  /** @type {number | null} the broadcast's generation last seen (see takenOver) */
  let generation = null;
  // the pickers were set from the broadcast found on air when this view opened (once: later
  // they are the operator's choice of what to start next)
  let pickersSet = false;
  const publisher = () => (own.sessionId === sessionId ? own.handle : null);
  // the publication's attempts show in this view while it is on screen
  const notify = () => {
    const handle = publisher();
    if (!handle) return;
    renderState();
    if (handle.state === "connected") setTimeout(() => ctx.schedule("broadcast"), 1500);
  };
  own.notify = notify;

  const bSource = h(
    "select",
    { id: "bc-source" },
    ["main", "site", "recording"].map((v) => h("option", { value: v }, t("broadcast.src." + v))),
  );
  const bSite = h("select", { id: "bc-site" });
  const bRec = h("select", { id: "bc-rec" });
  const programVideo = h("video", { class: "program", muted: true, playsinline: true, autoplay: true, "aria-label": t("broadcast.preview") });
  const bMsg = h("p", { class: "note", role: "status", id: "bc-msg" });
  // the preview's connection: connecting, or why it did not connect and what to do
  const previewMsg = h("p", { class: "note", role: "status", id: "bc-preview-msg", hidden: true });
  const bState = h("p", { class: "bc-state", id: "bc-state" });
  // Why 开始直播 is not offered: the server starts a broadcast in a live session only.
  const bWhy = h("p", { class: "note", id: "bc-why" });
  const bStart = button(t("broadcast.start"), (/** @type {Event} */ ev) => start(ev), { class: "primary", id: "bc-start" });
  const bTools = h("div", { class: "toolbar" });
  const bStop = button(t("broadcast.stop"), (/** @type {Event} */ ev) => stop(ev), { id: "bc-stop" });
  const bPreview = button(t("broadcast.previewOpen"), (/** @type {Event} */ ev) => preview(ev), { id: "bc-preview", class: "secondary", "aria-pressed": "false" });

  // ---- the operator's own camera as the main classroom ----------------------------------------
  const camera = cameraControls({
    onChange: async () => {
      if (publisher()) await publishOwnCamera(); // another device: publish it instead
    },
    inUse: () => Boolean(publisher()),
  });

  async function openCamera() {
    try {
      return await camera.open();
    } catch (err) {
      throw new Error(cameraErrorText(err));
    }
  }

  function stopPublishing() {
    const handle = publisher();
    if (handle) handle.close();
    if (own.sessionId === sessionId) own.handle = own.sessionId = null;
  }

  async function publishOwnCamera() {
    const stream = await openCamera();
    const mod = await ctx.loadMedia();
    if (!mod || !mod.publishCamera) throw new Error(t("media.unavailable"));
    stopPublishing();
    if (own.handle) own.handle.close(); // one camera publishes at a time
    own.handle = await mod.publishCamera(hub.socket, sessionId, stream, {
      maxAttempts: PUBLISH_ATTEMPTS,
      onState: () => own.notify && own.notify(),
    });
    own.sessionId = sessionId;
    renderState();
    // the server sees frames a moment after the connection is up
    for (const ms of [1500, 4000]) setTimeout(() => ctx.schedule("broadcast"), ms);
  }

  // ---- state line -----------------------------------------------------------------------------
  function renderState() {
    const b = st.broadcast;
    clear(bState);
    if (!b) return;
    if (b.error) {
      bState.append(h("span", { class: "pill" }, t("broadcast.unknown")));
      return;
    }
    bState.dataset.live = b.live ? "true" : "false";
    // "Live" only when the programme's origin really sends frames: a broadcast nobody
    // publishes into is said so plainly, with the way out.
    const silent = b.live && b.origin_publishing === false;
    bState.dataset.publishing = silent ? "false" : "true";
    if (silent) {
      const mine = publisher();
      const gaveUp = mine && mine.state === "failed";
      const publish = (/** @type {string} */ label) =>
        button(t(label), (/** @type {Event} */ ev) => act(ev.currentTarget, publishOwnCamera), { id: "bc-publish", class: "small primary" });
      if (mine && !gaveUp) {
        // this console's camera is on its way: say which attempt, not "no source"
        const retrying = mine.attempt > 1 || mine.state === "retrying";
        bState.append(
          h(
            "span",
            { class: "pill ps-degraded", id: "bc-no-publisher" },
            retrying ? t("broadcast.retrying", { n: Math.min(mine.attempt, mine.maxAttempts), max: mine.maxAttempts }) : t("broadcast.connecting"),
          ),
          retrying ? ` ${t("broadcast.retryingHelp")}` : "",
        );
        return;
      }
      bState.append(
        h("span", { class: "pill ps-degraded", id: "bc-no-publisher" }, gaveUp ? t("broadcast.publishFailed") : t("broadcast.noPublisher")),
        " ",
        gaveUp ? t("broadcast.publishFailedHelp", { n: mine.maxAttempts }) : originHelp(b),
        " ",
        b.source === "main" ? publish(gaveUp ? "broadcast.publishAgain" : "broadcast.publish") : "",
      );
      return;
    }
    if (b.live && b.floor_site_id && b.program_publishing === false) {
      // the site with the floor sends nothing: every room sees a frozen programme
      bState.dataset.publishing = "false";
      bState.append(
        h("span", { class: "pill ps-degraded", id: "bc-floor-silent" }, t("broadcast.floorSilent")),
        " ",
        t("broadcast.floorSilentHelp", { site: siteName(b.floor_site_id) }),
      );
      return;
    }
    bState.append(
      h("span", { class: `pill ${b.live ? "ps-online" : ""}` }, b.live ? t("broadcast.live") : t("broadcast.idle")),
      b.live ? ` ${t("broadcast.src." + b.source)}${b.floor_site_id ? " · " + t("floor.holder", { site: siteName(b.floor_site_id) }) : ""}` : "",
      b.live && publisher() ? ` · ${t("broadcast.publishing")}` : "",
      b.live && b.recording_id ? ` · ${t("broadcast.recordingNow")}` : "",
    );
  }

  /**
   * Why nothing reaches the rooms, by where the programme should come from.
   * @param {any} b the broadcast's view
   */
  function originHelp(b) {
    const site = /^site:(\d+)$/.exec(b.origin || "");
    if (site) return t("broadcast.noPublisherSiteHelp", { site: siteName(Number(site[1])) });
    return t(b.source === "recording" ? "broadcast.noPublisherRecHelp" : "broadcast.noPublisherHelp");
  }

  let recordingsAsked = 0; // only the latest request fills the list: two in flight must not list it twice
  async function loadRecordings() {
    const ask = ++recordingsAsked;
    const picked = bRec.value; // a reload must not undo the operator's choice
    /** @type {HTMLOptionElement[]} */
    const options = [];
    try {
      // This session's recordings and those of the course's earlier sessions (a later batch
      // is shown an earlier batch's lecture).
      const data = await api.get(`/sessions/${sessionId}/recordings`, { scope: "course" });
      const items = (data.recordings || data.items || []).filter((/** @type {any} */ r) => !r.status || r.status === "done");
      for (const r of items) {
        const mins = r.duration_s ? ` · ${t("broadcast.minutes", { n: Math.max(1, Math.round(r.duration_s / 60)) })}` : "";
        const when = r.session_id === sessionId ? `${t("broadcast.thisSession")} ${fmtTime(r.started_at)}` : `${fmtDateTime(r.started_at)} · ${r.session_title}`;
        options.push(/** @type {HTMLOptionElement} */ (h("option", { value: String(r.id) }, `#${r.id} · ${when}${mins}`)));
      }
      if (ask !== recordingsAsked) return;
    } catch (err) {
      if (ask !== recordingsAsked) return;
      bMsg.textContent = errorText(err);
    }
    if (!options.length) options.push(/** @type {HTMLOptionElement} */ (h("option", { value: "" }, t("broadcast.noRecordings"))));
    bRec.replaceChildren(...options);
    if (options.some((o) => o.value === picked)) bRec.value = picked;
  }

  // ---- the controls (built once, when the session is first known) -----------------------------
  function render() {
    const picked = bSite.value; // a live re-render must not undo the operator's choice
    clear(bSite);
    for (const id of st.session.site_ids) bSite.appendChild(h("option", { value: String(id) }, siteName(id)));
    if (picked && st.session.site_ids.includes(Number(picked))) bSite.value = picked;
    if (!el.firstChild) build();
    pickOnAir();
    offer();
  }

  /** What the session's status allows: a broadcast starts in a live session only (the
   * server's broadcast.session_not_live); before the start and after the end, say why. */
  function offer() {
    const status = st.session.status;
    const live = status === "live";
    const broadcasting = Boolean(st.broadcast && st.broadcast.live);
    bStart.hidden = !live;
    bStop.hidden = !live && !broadcasting; // nothing to stop before the start
    // an ended session keeps nothing to start, preview or pick, unless a broadcast still runs
    const over = status === "ended" && !broadcasting;
    bTools.hidden = over;
    camera.element.hidden = over || bSource.value !== "main";
    bWhy.textContent = live ? "" : t(status === "ended" ? "broadcast.sessionEnded" : "broadcast.startSessionFirst");
    bWhy.hidden = live;
  }

  /** @param {Event} ev */
  async function start(ev) {
    /** @type {{source: string, site_id?: number, recording_id?: number}} */
    const body = { source: bSource.value };
    if (body.source === "site") body.site_id = Number(bSite.value);
    if (body.source === "recording") {
      if (!bRec.value) {
        bMsg.textContent = t("broadcast.pickRecording");
        return;
      }
      body.recording_id = Number(bRec.value);
    }
    await act(ev.currentTarget, async () => {
      // The camera first: a broadcast must not start "live" with nothing to send.
      const ownCamera = body.source === "main" && camera.wanted();
      if (ownCamera) await openCamera();
      await api.post(`/sessions/${sessionId}/broadcast/start`, body);
      bMsg.textContent = t("broadcast.started", { source: t("broadcast.src." + body.source) });
      if (ownCamera) await publishOwnCamera();
      ctx.schedule("broadcast");
    });
  }

  /** @param {Event} ev */
  function stop(ev) {
    return act(ev.currentTarget, async () => {
      stopPublishing();
      camera.close();
      await api.post(`/sessions/${sessionId}/broadcast/stop`);
      bMsg.textContent = t("broadcast.off");
      ctx.schedule("broadcast");
    });
  }

  // 打开直播预览 / 关闭直播预览: one button, saying what a click does now
  function syncPreview() {
    bPreview.textContent = t(program ? "broadcast.previewClose" : "broadcast.previewOpen");
    bPreview.setAttribute("aria-pressed", String(Boolean(program)));
  }

  /** @param {string} text what the preview line says ("" hides it) */
  function sayPreview(text) {
    previewMsg.textContent = text;
    previewMsg.hidden = !text;
  }

  function closePreview() {
    if (program) program.close();
    program = null;
    programVideo.srcObject = null;
    programVideo.hidden = true; // no black box where no picture comes
    syncPreview();
  }

  /** The preview did not connect: no video box, a line saying why and what to do. */
  function previewFailed(/** @type {any} */ err) {
    closePreview();
    const notLive = err && err.code === "media.no_broadcast";
    sayPreview(notLive ? t("broadcast.previewNotLive") : t("broadcast.previewFailed", { why: previewWhy(err) }));
  }

  /** Open the programme preview: its box shows once the connection is up. @param {any} mod */
  async function openPreview(mod) {
    /** @type {any} */
    let handle = null;
    let shown = false;
    const onState = () => {
      if (!handle || handle !== program) return; // an older preview's late news
      if (handle.state === "failed") return previewFailed(handle.error);
      if (handle.state === "connected") shown = true;
      programVideo.hidden = !shown;
      sayPreview(shown ? "" : t("broadcast.previewConnecting"));
    };
    sayPreview(t("broadcast.previewConnecting"));
    try {
      handle = await mod.viewProgram(hub.socket, sessionId, programVideo, { maxAttempts: PREVIEW_ATTEMPTS, onState });
    } catch (err) {
      previewFailed(err);
      return;
    }
    program = handle;
    syncPreview();
    onState();
  }

  /** @param {Event} ev */
  async function preview(ev) {
    await act(ev.currentTarget, async () => {
      const mod = await ctx.loadMedia();
      if (!mod || !mod.viewProgram) throw new Error(t("media.unavailable"));
      if (program) {
        closePreview();
        sayPreview("");
        return;
      }
      await openPreview(mod);
    });
  }

  /** The controls, built once, when the session is first known. */
  function build() {
    bSource.addEventListener("change", syncPickers);
    programVideo.hidden = true;
    bTools.append(
      field(t("broadcast.source"), bSource),
      field(t("broadcast.site"), bSite),
      field(t("broadcast.recording"), bRec),
      h(
        "div",
        { class: "row-actions" },
        bStart,
        bStop,
        bPreview,
      ),
    );
    el.appendChild(bWhy);
    el.appendChild(bTools);
    el.appendChild(camera.element);
    el.appendChild(bState);
    el.appendChild(bMsg);
    el.appendChild(previewMsg);
    el.appendChild(programVideo);
    syncPickers();
  }

  /** The fields of the chosen source: the site list, the recordings or the camera. */
  function syncPickers() {
    camera.element.hidden = bSource.value !== "main";
    /** @type {HTMLElement} */ (bSite.closest(".field")).hidden = bSource.value !== "site";
    /** @type {HTMLElement} */ (bRec.closest(".field")).hidden = bSource.value !== "recording";
    if (bSource.value === "recording") loadRecordings();
  }

  /** A view opened during a broadcast (a reload, the language switch) picks what is on air. */
  function pickOnAir() {
    const b = st.broadcast;
    if (pickersSet || !b || b.error) return;
    pickersSet = true;
    if (!b.live || ![...bSource.options].some((o) => o.value === b.source)) return;
    bSource.value = b.source;
    const site = /^site:(\d+)$/.exec(b.origin || "");
    if (site && [...bSite.options].some((o) => o.value === site[1])) bSite.value = site[1];
    syncPickers();
  }

  /** GET /broadcast: live or not, the source, whether its origin sends frames, relays. */
  async function load() {
    const wasLive = Boolean(st.broadcast && st.broadcast.live);
    try {
      st.broadcast = await api.get(`/sessions/${sessionId}/broadcast`);
    } catch (err) {
      st.broadcast = { error: err };
    }
    // stopped here, in another console or by the session's end: "started" no longer holds
    if (wasLive && st.broadcast && st.broadcast.live === false) bMsg.textContent = t("broadcast.off");
    if (st.broadcast && st.broadcast.live === false && publisher()) {
      stopPublishing(); // stopped elsewhere (another console, the session ended)
      camera.close();
    }
    const seen = st.broadcast && st.broadcast.live ? st.broadcast.generation : null;
    if (seen && generation && seen > generation) takenOver();
    generation = seen || null;
    renderState();
    if (st.session && el.firstChild) {
      pickOnAir();
      offer();
    }
    ctx.renderWall(); // the tiles say which relay site each site pulls the program from
  }

  /** Another node took the broadcast over (its owner died): the camera publication and the
   * preview went to the dead node's relay, so both connect again, to the new owner. */
  async function takenOver() {
    try {
      if (publisher()) await publishOwnCamera();
      if (program) {
        closePreview();
        const mod = await ctx.loadMedia();
        if (mod && mod.viewProgram) await openPreview(mod);
      }
      syncPreview();
    } catch (err) {
      bMsg.textContent = errorText(err);
    }
  }

  function destroy() {
    if (own.notify === notify) own.notify = null;
    camera.detach(); // the stream and its publication go on (see own)
    if (program) program.close();
  }

  return { el, render, renderState, load, destroy };
}
