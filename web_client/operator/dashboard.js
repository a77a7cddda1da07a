// The live session dashboard: broadcast, site wall, moderation + floor queue, roll call, polls.
// State comes from REST reads; the live socket (topics presence, health, session:<id>) keeps it
// current, and any resync or reconnect reloads it from REST, so a server restart heals itself.
import { h, clear } from "/static/shared/dom.js";
import { t, getLang } from "/static/shared/i18n.js";

const getLangKey = () => getLang();
import { api, ApiError, errorText } from "/static/shared/api.js";
import "./media_messages.js";
import { cameraControls, cameraErrorText } from "./camera.js";
import { act, ago, button, field, flash, flashError, fmtDateTime, fmtTime, nextId, pct } from "./ui.js";
import { checkinGuardPanel } from "./checkin_guard.js";

// The operator's own camera publication outlives the view that started it: switching the
// language or reading the report must not cut the broadcast. Only 停止直播, the broadcast
// ending, or the session's console publishing again replaces it.
const own = { sessionId: null, handle: null };

const SCREEN_STALE_S = 15; // a screen page reports every 5 s: three missed reports (server/core/screen.py)
const MAX_FEEDS = 12; // return-feed thumbnails playing at once (each is a WebRTC connection)
const FEED_RETRY_MIN = 2000; // a refused return feed is asked for again after 2, 4, 8 ... s
const FEED_RETRY_MAX = 30000;
const HEADCOUNT_GAP = 1000; // check-in events: the counts reload at most this often (ms)
const GROUPS = ["session", "questions", "queue", "floor", "rollcalls", "polls", "headcount", "broadcast", "qaSettings"];

/** Re-render a container while keeping keyboard focus on the "same" control (data-key). */
/** After a start: the server's off-schedule warning (stays until dismissed), else "started". */
function startedMessage(view) {
  const w = view && view.warning;
  if (!w) return flash(t("dash.started"), "ok");
  const n = Math.round(Math.abs(w.minutes_off));
  flash(t(w.minutes_off > 0 ? "dash.startedLate" : "dash.startedEarly", { n }), "warn");
}

function rerender(container, build) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : null;
  clear(container);
  const out = build();
  if (out) container.appendChild(out);
  if (key) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

export async function dashboardView(root, sessionId, hub) {
  const st = {
    session: null,
    sites: new Map(), // id -> {id, name, state, reason, lastBeat, health, screen, present, expected}
    presence: new Map(), // id -> {state, lastBeat, health, screen}: the latest snapshot, every site
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
    headcountAt: 0, // Date.now() of the last load of the counts
  };
  const topic = `session:${sessionId}`;
  const media = {
    mod: null,
    tried: false,
    feeds: new Map(), // site id -> {handle, cancelled, video}
    failures: new Map(), // site id -> refused offers in a row
    retryAt: new Map(), // site id -> Date.now() before which its feed is not asked for again
    program: null,
    get publisher() {
      return own.sessionId === sessionId ? own.handle : null;
    },
  };

  // ---- skeleton -----------------------------------------------------------------------------
  const head = h("div", { class: "dash-head" });
  const broadcastBox = h("div", { class: "broadcast" });
  const wall = h("div", { class: "wall", role: "list", "aria-label": t("wall.title") });
  const wallSummary = h("p", { class: "wall-summary", "aria-live": "polite" });
  const floorBox = h("div", { class: "floor", "aria-live": "polite" });
  const queueBox = h("div", { class: "queue" });
  const modBox = h("div", { class: "moderation" });
  const qaSettingsBox = h("div", { class: "qa-settings" });
  const rollBox = h("div", { class: "rollcalls" });
  const pollBox = h("div", { class: "polls" });
  const floorSeconds = h("input", { type: "number", min: "1", max: "86400", value: "120", id: "floor-seconds", class: "short" });
  const thumbsToggle = h("input", { type: "checkbox", id: "thumbs-toggle", checked: true });

  const guard = checkinGuardPanel(sessionId, hub); // wrong check-in codes + check-in scope
  const panel = (titleKey, id, ...children) =>
    h("section", { class: "panel", id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, t(titleKey)), ...children);

  root.appendChild(
    h(
      "div",
      { class: "dashboard" },
      head,
      panel("broadcast.title", "p-broadcast", broadcastBox),
      panel(
        "wall.title",
        "p-wall",
        h(
          "div",
          { class: "toolbar" },
          h("label", { for: "thumbs-toggle", class: "check" }, thumbsToggle, " ", t("wall.thumbs")),
          field(t("floor.seconds"), floorSeconds),
        ),
        wallSummary,
        wall,
      ),
      h(
        "div",
        { class: "cols" },
        panel("floor.queueTitle", "p-queue", floorBox, queueBox),
        panel("qa.title", "p-qa", qaSettingsBox, modBox),
      ),
      h("div", { class: "cols" }, panel("roll.title", "p-roll", rollBox), panel("poll.title", "p-poll", pollBox)),
      panel("guard.title", "p-guard", guard.el),
    ),
  );

  const siteName = (id) => st.siteNames.get(Number(id)) || t("wall.siteN", { id });

  // ---- loading ------------------------------------------------------------------------------
  const loaders = {
    session: async () => {
      st.session = await api.get(`/sessions/${sessionId}`);
      for (const id of st.session.site_ids) {
        if (st.sites.has(id)) continue;
        // The presence snapshot may have arrived before the session did: start from it.
        const known = st.presence.get(id) || {};
        st.sites.set(id, { id, state: known.state || "offline", reason: "", lastBeat: known.lastBeat || 0, health: known.health || null, screen: known.screen || null, present: null, expected: null });
      }
      renderHead();
      renderBroadcast();
      renderWall();
    },
    questions: async () => {
      const data = await api.get(`/sessions/${sessionId}/questions`, { order: "time", limit: 500 });
      st.questions = data.items;
      renderModeration();
    },
    queue: async () => {
      st.queue = (await api.get(`/sessions/${sessionId}/moderator-queue`)).items;
      renderQueue();
    },
    floor: async () => {
      st.floor = await api.get(`/sessions/${sessionId}/floor`);
      st.floorFetchedAt = performance.now();
      renderFloor();
      renderWall();
    },
    rollcalls: async () => {
      st.rollcalls = (await api.get(`/sessions/${sessionId}/roll-calls`)).items;
      renderRollcalls();
    },
    polls: async () => {
      const items = (await api.get(`/sessions/${sessionId}/polls`)).items;
      const old = new Map(st.polls.map((p) => [p.id, p]));
      st.polls = await Promise.all(
        items.map(async (p) => {
          if (p.tally) return p;
          if (p.state === "draft") return { ...p, tally: old.get(p.id)?.tally || null };
          try {
            return await api.get(`/polls/${p.id}`);
          } catch (_err) {
            return { ...p, tally: old.get(p.id)?.tally || null };
          }
        }),
      );
      renderPolls();
    },
    presenceHistory: async () => {
      try {
        const data = await api.get(`/sessions/${sessionId}/presence`);
        for (const row of data.sites || []) {
          const site = st.sites.get(row.site_id);
          const last = row.intervals && row.intervals[row.intervals.length - 1];
          if (site && last && !site.since) site.since = new Date(last.from).getTime() / 1000;
        }
        renderWall();
      } catch (_err) {
        /* moderators may not read it; the live topic still drives the wall */
      }
    },
    broadcast: async () => {
      try {
        st.broadcast = await api.get(`/sessions/${sessionId}/broadcast`);
      } catch (err) {
        st.broadcast = { error: err };
      }
      if (st.broadcast && st.broadcast.live === false && media.publisher) {
        stopPublishing(); // stopped elsewhere (another console, the session ended)
        camera.close();
      }
      renderBroadcastState();
      renderWall(); // the tiles say which relay site each site pulls the program from
    },
    qaSettings: async () => {
      try {
        st.qaSettings = await api.get(`/sessions/${sessionId}/qa-settings`);
      } catch (_err) {
        st.qaSettings = null;
      }
      renderQaSettings();
    },
    headcount: async () => {
      if (!st.canManage) return;
      st.headcountAt = Date.now();
      try {
        const report = await api.get(`/sessions/${sessionId}/report`);
        for (const row of report.by_site || []) {
          const site = st.sites.get(row.site_id);
          if (site) {
            site.present = row.present;
            site.expected = row.expected;
          }
        }
        st.totals = report.totals;
        renderWall();
      } catch (err) {
        if (err instanceof ApiError && err.status === 403) st.canManage = false;
        else throw err;
      }
    },
  };

  // A burst of check-ins (a whole room typing the code) reloads the counts at most once a second.
  let headcountLater = null;
  function headcountSoon() {
    if (headcountLater) return;
    const wait = Math.max(0, st.headcountAt + HEADCOUNT_GAP - Date.now());
    headcountLater = setTimeout(() => {
      headcountLater = null;
      if (!st.destroyed) schedule("headcount");
    }, wait);
  }

  const pending = new Set();
  let timer = null;
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

  async function loadSiteNames() {
    try {
      const sites = await api.get("/sites", { limit: 500 });
      for (const s of sites.items) st.siteNames.set(s.id, s.name);
    } catch (err) {
      flashError(err);
    }
  }

  // ---- header and broadcast -----------------------------------------------------------------
  function renderHead() {
    const s = st.session;
    rerender(head, () =>
      h(
        "div",
        {},
        h("h1", {}, s.title || `#${s.id}`, " ", h("span", { class: `badge st-${s.status}`, id: "session-status" }, t("status." + s.status))),
        h(
          "p",
          { class: "note" },
          `${fmtTime(s.starts_at)} – ${fmtTime(s.ends_at)} · `,
          s.started_at ? h("span", { id: "session-started-at" }, t("dash.startedAt", { time: fmtTime(s.started_at) }), " · ") : null,
          t("dash.sitesCount", { n: s.site_ids.length }),
          " · ",
          h("a", { href: `#/sessions/${sessionId}/report` }, t("sessions.report")),
        ),
        h(
          "div",
          { class: "row-actions" },
          s.status === "scheduled"
            ? button(t("dash.startSession"), (ev) => act(ev.currentTarget, () => api.post(`/sessions/${sessionId}/start`).then((view) => {
                startedMessage(view);
                schedule("session");
              })), { class: "primary", "data-key": "start" })
            : null,
          s.status === "live"
            ? button(t("dash.endSession"), (ev) => {
                if (window.confirm(t("dash.endConfirm"))) act(ev.currentTarget, () => api.post(`/sessions/${sessionId}/end`).then(() => schedule("session")), t("dash.ended"));
              }, { class: "danger", "data-key": "end" })
            : null,
        ),
      ),
    );
  }

  const bSource = h(
    "select",
    { id: "bc-source" },
    ["main", "site", "recording"].map((v) => h("option", { value: v }, t("broadcast.src." + v))),
  );
  const bSite = h("select", { id: "bc-site" });
  const bRec = h("select", { id: "bc-rec" });
  const programVideo = h("video", { class: "program", muted: true, playsinline: true, autoplay: true, "aria-label": t("broadcast.preview") });
  const bMsg = h("p", { class: "note", role: "status" });
  const bState = h("p", { class: "bc-state", id: "bc-state" });

  function renderBroadcastState() {
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
      bState.append(
        h("span", { class: "pill ps-degraded", id: "bc-no-publisher" }, media.publisher ? t("broadcast.connecting") : t("broadcast.noPublisher")),
        " ",
        media.publisher ? "" : originHelp(b),
        " ",
        b.source === "main" && !media.publisher ? button(t("broadcast.publish"), (ev) => act(ev.currentTarget, publishOwnCamera), { id: "bc-publish", class: "small primary" }) : "",
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
      b.live && media.publisher ? ` · ${t("broadcast.publishing")}` : "",
      b.live && b.recording_id ? ` · ${t("broadcast.recordingNow")}` : "",
    );
  }

  /** Why nothing reaches the rooms, by where the programme should come from. */
  function originHelp(b) {
    const site = /^site:(\d+)$/.exec(b.origin || "");
    if (site) return t("broadcast.noPublisherSiteHelp", { site: siteName(Number(site[1])) });
    return t(b.source === "recording" ? "broadcast.noPublisherRecHelp" : "broadcast.noPublisherHelp");
  }

  async function loadRecordings() {
    clear(bRec);
    try {
      // This session's recordings and those of the course's earlier sessions (a later batch
      // is shown an earlier batch's lecture).
      const data = await api.get(`/sessions/${sessionId}/recordings`, { scope: "course" });
      const items = (data.recordings || data.items || []).filter((r) => !r.status || r.status === "done");
      for (const r of items) {
        const mins = r.duration_s ? ` · ${t("broadcast.minutes", { n: Math.max(1, Math.round(r.duration_s / 60)) })}` : "";
        const when = r.session_id === sessionId ? `${t("broadcast.thisSession")} ${fmtTime(r.started_at)}` : `${fmtDateTime(r.started_at)} · ${r.session_title}`;
        bRec.appendChild(h("option", { value: String(r.id) }, `#${r.id} · ${when}${mins}`));
      }
      if (!items.length) bRec.appendChild(h("option", { value: "" }, t("broadcast.noRecordings")));
    } catch (err) {
      bRec.appendChild(h("option", { value: "" }, t("broadcast.noRecordings")));
      bMsg.textContent = errorText(err);
    }
  }

  function renderBroadcast() {
    const picked = bSite.value; // a live re-render must not undo the operator's choice
    clear(bSite);
    for (const id of st.session.site_ids) bSite.appendChild(h("option", { value: String(id) }, siteName(id)));
    if (picked && st.session.site_ids.includes(Number(picked))) bSite.value = picked;
    if (broadcastBox.firstChild) return;
    const sync = () => {
      camera.element.hidden = bSource.value !== "main";
      bSite.closest(".field").hidden = bSource.value !== "site";
      bRec.closest(".field").hidden = bSource.value !== "recording";
      if (bSource.value === "recording") loadRecordings();
    };
    bSource.addEventListener("change", sync);
    const start = async (ev) => {
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
        const own = body.source === "main" && camera.wanted();
        if (own) await openCamera();
        await api.post(`/sessions/${sessionId}/broadcast/start`, body);
        bMsg.textContent = t("broadcast.started", { source: t("broadcast.src." + body.source) });
        if (own) await publishOwnCamera();
        schedule("broadcast");
      });
    };
    const stop = (ev) =>
      act(ev.currentTarget, async () => {
        stopPublishing();
        camera.close();
        await api.post(`/sessions/${sessionId}/broadcast/stop`);
        bMsg.textContent = t("broadcast.off");
        schedule("broadcast");
      });
    const preview = async (ev) => {
      await act(ev.currentTarget, async () => {
        const mod = await loadMedia();
        if (!mod || !mod.viewProgram) throw new Error(t("media.unavailable"));
        if (media.program) {
          media.program.close();
          media.program = null;
          programVideo.hidden = true;
          return;
        }
        programVideo.hidden = false;
        media.program = await mod.viewProgram(hub.socket, sessionId, programVideo);
      });
    };
    programVideo.hidden = true;
    broadcastBox.appendChild(
      h(
        "div",
        { class: "toolbar" },
        field(t("broadcast.source"), bSource),
        field(t("broadcast.site"), bSite),
        field(t("broadcast.recording"), bRec),
        h(
          "div",
          { class: "row-actions" },
          button(t("broadcast.start"), start, { class: "primary", id: "bc-start" }),
          button(t("broadcast.stop"), stop, { id: "bc-stop" }),
          button(t("broadcast.previewToggle"), preview, { id: "bc-preview", class: "secondary" }),
        ),
      ),
    );
    broadcastBox.appendChild(camera.element);
    broadcastBox.appendChild(bState);
    broadcastBox.appendChild(bMsg);
    broadcastBox.appendChild(programVideo);
    sync();
  }

  // ---- the operator's own camera as the main classroom ----------------------------------------
  const camera = cameraControls({
    onChange: async () => {
      if (media.publisher) await publishOwnCamera(); // another device: publish it instead
    },
  });

  async function openCamera() {
    try {
      return await camera.open();
    } catch (err) {
      throw new Error(cameraErrorText(err));
    }
  }

  function stopPublishing() {
    if (media.publisher) media.publisher.close();
    if (own.sessionId === sessionId) own.handle = own.sessionId = null;
  }

  async function publishOwnCamera() {
    const stream = await openCamera();
    const mod = await loadMedia();
    if (!mod || !mod.publishCamera) throw new Error(t("media.unavailable"));
    stopPublishing();
    if (own.handle) own.handle.close(); // one camera publishes at a time
    own.handle = await mod.publishCamera(hub.socket, sessionId, stream);
    own.sessionId = sessionId;
    renderBroadcastState();
    // the server sees frames a moment after the connection is up
    for (const ms of [1500, 4000]) setTimeout(() => schedule("broadcast"), ms);
  }

  // ---- media (optional: shared/media.js may not be there yet) -------------------------------
  async function loadMedia() {
    if (media.tried) return media.mod;
    media.tried = true;
    try {
      media.mod = await import("/static/shared/media.js");
    } catch (_err) {
      media.mod = null;
    }
    return media.mod;
  }

  const visible = new Set();
  const observer =
    "IntersectionObserver" in window
      ? new IntersectionObserver((entries) => {
          for (const e of entries) {
            const id = Number(e.target.dataset.siteId);
            if (e.isIntersecting) {
              visible.add(id);
              const ref = tiles.get(id);
              const site = st.sites.get(id);
              if (ref && site) setText(ref.facts.beat, ago(site.lastBeat));
            } else visible.delete(id);
          }
          syncFeeds();
        })
      : null;

  // A tile's return feed exists only while the session broadcasts: none is asked for before
  // (the server refuses), a refused or failed one is dropped and asked for again after a pause,
  // and when the broadcast starts (or the live socket comes back) the tiles on screen ask.
  function dropFeed(id, feed) {
    if (media.feeds.get(id) === feed) media.feeds.delete(id);
    feed.cancelled = true;
    if (feed.handle) feed.handle.close();
    feed.video.hidden = true;
    feed.video.srcObject = null;
  }

  function feedRefused(id, feed) {
    if (feed.cancelled) return;
    dropFeed(id, feed);
    const wait = Math.min(FEED_RETRY_MAX, FEED_RETRY_MIN * 2 ** (media.failures.get(id) || 0));
    media.failures.set(id, (media.failures.get(id) || 0) + 1);
    media.retryAt.set(id, Date.now() + wait);
    setTimeout(syncFeeds, wait + 50);
  }

  async function syncFeeds() {
    if (st.destroyed) return;
    // live false: the server said there is no broadcast; unknown (not loaded, not readable): try
    const noBroadcast = Boolean(st.broadcast && !st.broadcast.error && st.broadcast.live === false);
    for (const [id, feed] of media.feeds) {
      const site = st.sites.get(id);
      if (noBroadcast || !st.thumbs || !visible.has(id) || !site || site.state === "offline") dropFeed(id, feed);
    }
    if (noBroadcast) {
      media.failures.clear();
      media.retryAt.clear();
    }
    if (!st.thumbs || noBroadcast) return;
    const now = Date.now();
    const room = MAX_FEEDS - media.feeds.size;
    const wanted = [...visible]
      .filter((id) => st.sites.get(id) && st.sites.get(id).state !== "offline" && !media.feeds.has(id))
      .filter((id) => !(media.retryAt.get(id) > now))
      .slice(0, Math.max(0, room));
    if (!wanted.length) return;
    const mod = await loadMedia();
    if (!mod || !mod.viewSite || st.destroyed) return;
    for (const id of wanted) {
      const tile = wall.querySelector(`[data-site-id="${id}"]`);
      const video = tile && tile.querySelector("video");
      if (!video || media.feeds.has(id)) continue;
      const feed = { handle: null, cancelled: false, video };
      media.feeds.set(id, feed);
      mod
        .viewSite(hub.socket, sessionId, id, video)
        .then((handle) => {
          if (feed.cancelled) return handle.close();
          feed.handle = handle;
          media.failures.delete(id);
          video.hidden = false;
        })
        .catch(() => feedRefused(id, feed)); // no return feed for this site now: text only
    }
  }
  thumbsToggle.addEventListener("change", () => {
    st.thumbs = thumbsToggle.checked;
    syncFeeds();
  });

  // ---- site wall ----------------------------------------------------------------------------
  // Each tile keeps references to its parts; an update writes only what changed, so hundreds
  // of heartbeats a minute cost little layout work.
  const tiles = new Map(); // site id -> {tile, name, pills, facts: {...}, actions, key}

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function tileFor(site) {
    let ref = tiles.get(site.id);
    if (ref) return ref.tile;
    const facts = {};
    const dl = h("dl", { class: "tile-facts" });
    for (const key of ["headcount", "stream", "screen", "beat", "since"]) {
      facts[key] = h("dd", { class: `f-${key}` });
      dl.append(h("dt", { "data-fact": key }), facts[key]);
    }
    ref = {
      name: h("h3", { id: `tile-${site.id}-h`, class: "tile-name" }),
      pills: h("p", { class: "tile-state" }),
      facts,
      dl,
      actions: h("div", { class: "tile-actions" }),
      key: "",
    };
    ref.tile = h(
      "article",
      { class: "tile", role: "listitem", "data-site-id": String(site.id), "aria-labelledby": `tile-${site.id}-h` },
      ref.name,
      h("video", { class: "thumb", muted: true, playsinline: true, autoplay: true, hidden: true, "aria-label": t("wall.feed") }),
      ref.pills,
      dl,
      ref.actions,
    );
    tiles.set(site.id, ref);
    if (observer) observer.observe(ref.tile);
    return ref.tile;
  }

  function updateTile(id, holder, hands) {
    const site = st.sites.get(id);
    if (!site) return;
    tileFor(site);
    const ref = tiles.get(id);
    const tile = ref.tile;
    if (tile.dataset.state !== site.state) tile.dataset.state = site.state;
    const hasFloor = holder === id;
    const handUp = hands.has(id);
    tile.classList.toggle("has-floor", hasFloor);
    tile.classList.toggle("hand-up", handUp);
    setText(ref.name, siteName(id));
    const key = `${site.state}|${hasFloor}|${handUp}|${getLangKey()}`;
    if (ref.key !== key) {
      ref.key = key;
      clear(ref.pills).append(
        h("span", { class: `pill ps-${site.state}` }, t("presence." + site.state)),
        hasFloor ? h("span", { class: "pill floor-pill" }, t("wall.hasFloor")) : "",
        handUp ? h("span", { class: "pill hand-pill" }, t("wall.handUp")) : "",
      );
      for (const dt of ref.dl.querySelectorAll("dt")) dt.textContent = t(`wall.${{ headcount: "headcount", stream: "stream", screen: "screen", beat: "heartbeat", since: "since" }[dt.dataset.fact]}`);
      rerender(ref.actions, () =>
        hasFloor
          ? button(t("floor.revoke"), (ev) => revokeFloor(ev.currentTarget), { "data-key": `revoke-${id}`, class: "danger small" })
          : button(t("floor.grant"), (ev) => grantFloor(ev.currentTarget, id), { "data-key": `grant-${id}`, class: "small", "aria-label": t("floor.grantTo", { site: siteName(id) }) }),
      );
    }
    const health = site.health || {};
    const stream = health.stream && health.stream.state ? health.stream.state : null;
    setText(ref.facts.headcount, site.expected == null ? "—" : `${site.present} / ${site.expected}`);
    const relay = st.broadcast && st.broadcast.upstream ? st.broadcast.upstream[String(id)] : null;
    setText(
      ref.facts.stream,
      (stream ? t("stream." + stream) + (health.rtt_ms != null ? ` · ${Math.round(health.rtt_ms)} ms` : "") : "—") +
        (relay ? ` · ${t("wall.via", { site: siteName(relay) })}` : ""),
    );
    const screen = screenState(site.screen);
    if (tile.dataset.screen !== screen) tile.dataset.screen = screen;
    setText(ref.facts.screen, screenText(site.screen, screen));
    setText(ref.facts.beat, ago(site.lastBeat));
    setText(ref.facts.since, site.since ? `${fmtTime(new Date(site.since * 1000).toISOString())}${site.reason ? " · " + t("reason." + site.reason) : ""}` : "—");
  }

  /** The screen page's playback: its judged state, or "silent" when its reports stopped. */
  function screenState(report) {
    if (!report) return "none";
    return Date.now() / 1000 - report.at > SCREEN_STALE_S ? "silent" : report.state;
  }

  function screenText(report, state) {
    if (state === "none") return "—";
    const parts = [t("screen.state." + state)];
    if (state === "playing") {
      if (report.fps) parts.push(`${Math.round(report.fps)} fps`);
      parts.push(t("screen.sound." + report.sound));
    }
    return parts.join(" · ");
  }

  function floorMarks() {
    const holder = st.floor && st.floor.holder ? st.floor.holder.site_id : null;
    const hands = new Set(((st.floor && st.floor.requests) || []).map((r) => r.site_id));
    return [holder, hands];
  }

  function renderSummary() {
    const ids = st.session ? st.session.site_ids : [];
    let online = 0;
    let degraded = 0;
    for (const id of ids) {
      const state = st.sites.get(id)?.state;
      if (state === "online") online += 1;
      if (state === "degraded") degraded += 1;
    }
    const totals = st.totals;
    const text = t("wall.summary", {
      online,
      degraded,
      offline: ids.length - online - degraded,
      present: totals ? totals.present : "—",
      expected: totals ? totals.expected : "—",
    });
    if (wallSummary.textContent !== text) wallSummary.textContent = text; // a live region: only real changes

  }

  /** Every tile, in the session's order: after loads (not for each heartbeat). */
  function renderWall() {
    if (!st.session) return;
    const [holder, hands] = floorMarks();
    st.session.site_ids.forEach((id, index) => {
      const tile = tileFor(st.sites.get(id));
      if (wall.children[index] !== tile) wall.insertBefore(tile, wall.children[index] || null);
      updateTile(id, holder, hands);
    });
    dirty.clear();
    renderSummary();
    syncFeeds();
  }

  // Heartbeats and presence changes of hundreds of sites: redraw only the changed tiles,
  // at most about five times a second.
  const dirty = new Set();
  let dirtyTimer = null;
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
      syncFeeds();
    }, 200);
  }

  // ---- floor ----------------------------------------------------------------------------------
  async function grantFloor(btn, siteId) {
    const seconds = Number(floorSeconds.value);
    const body = { site_id: siteId };
    if (seconds > 0) body.time_limit = seconds;
    await act(btn, async () => {
      st.floor = await api.post(`/sessions/${sessionId}/floor/grant`, body);
      st.floorFetchedAt = performance.now();
      renderFloor();
      renderWall();
      schedule("queue");
    }, t("floor.granted", { site: siteName(siteId) }));
  }

  async function revokeFloor(btn) {
    await act(btn, async () => {
      st.floor = await api.post(`/sessions/${sessionId}/floor/revoke`);
      st.floorFetchedAt = performance.now();
      renderFloor();
      renderWall();
      schedule("queue");
    }, t("floor.revoked"));
  }

  function remaining() {
    const holder = st.floor && st.floor.holder;
    if (!holder || holder.remaining_seconds == null) return null;
    return Math.max(0, holder.remaining_seconds - (performance.now() - st.floorFetchedAt) / 1000);
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
            button(t("floor.revoke"), (ev) => revokeFloor(ev.currentTarget), { class: "danger", id: "floor-revoke", "data-key": "floor-revoke" }),
          )
        : h("p", { class: "note", id: "floor-holder" }, t("floor.main")),
    );
  }

  function countdownText() {
    const left = remaining();
    if (left == null) return t("floor.noLimit");
    const s = Math.ceil(left);
    return t("floor.left", { m: Math.floor(s / 60), s: String(s % 60).padStart(2, "0") });
  }

  function renderQueue() {
    rerender(queueBox, () =>
      h(
        "div",
        {},
        h("h3", {}, t("floor.queue")),
        st.queue.length
          ? h(
              "ol",
              { class: "queue-list", id: "queue-list" },
              st.queue.map((item, i) =>
                item.kind === "question"
                  ? h(
                      "li",
                      { class: "q-item", "data-question-id": String(item.question.id) },
                      h("span", { class: "pill" }, t("queue.question")),
                      " ",
                      h("span", { class: "q-text" }, item.question.text),
                      h("small", { class: "note" }, ` · ${siteName(item.site_id)} · ${fmtTime(item.raised_at)} · ${t("qa.votes", { n: item.question.vote_count })}`),
                      " ",
                      button(t("qa.onAir"), (ev) => moderate(ev.currentTarget, item.question.id, "on-air"), { class: "small", "data-key": `qon-${item.question.id}` }),
                    )
                  : h(
                      "li",
                      { class: "hand-item", "data-site-id": String(item.site_id) },
                      h("span", { class: "pill hand-pill" }, t("queue.hand")),
                      " ",
                      siteName(item.site_id),
                      h("small", { class: "note" }, ` · ${fmtTime(item.raised_at)}`),
                      " ",
                      button(t("floor.grant"), (ev) => grantFloor(ev.currentTarget, item.site_id), { class: "small", "data-key": `qgrant-${item.site_id}-${i}` }),
                    ),
              ),
            )
          : h("p", { class: "note" }, t("queue.empty")),
      ),
    );
  }

  // ---- moderation ---------------------------------------------------------------------------
  async function moderate(btn, id, action, body) {
    await act(btn, async () => {
      await api.post(`/questions/${id}/${action}`, body);
      schedule("questions", "queue");
    });
  }

  // Drafts survive the live re-renders of the list (a vote elsewhere must not eat the typing).
  const editing = new Map(); // question id -> draft text
  const mergeChoice = new Map(); // question id -> chosen target id

  function editForm(q) {
    const area = h("textarea", { rows: "3", maxlength: "500", "data-key": `edit-area-${q.id}`, id: `edit-area-${q.id}` });
    area.value = editing.get(q.id);
    area.addEventListener("input", () => editing.set(q.id, area.value));
    return h(
      "form",
      {
        class: "inline-form",
        onsubmit: async (ev) => {
          ev.preventDefault();
          const text = area.value;
          await act(ev.submitter, async () => {
            await api.post(`/questions/${q.id}/edit`, { text });
            editing.delete(q.id);
            schedule("questions", "queue");
          });
        },
      },
      field(t("qa.editText"), area),
      h("button", { type: "submit", class: "small", "data-key": `edit-save-${q.id}` }, t("ui.save")),
      button(t("ui.cancel"), () => {
        editing.delete(q.id);
        renderModeration();
      }, { class: "small secondary" }),
    );
  }

  function editQuestion(q) {
    editing.set(q.id, q.text);
    renderModeration();
    const area = document.getElementById(`edit-area-${q.id}`);
    if (area) area.focus();
  }

  function mergeControl(q, approved) {
    const others = approved.filter((o) => o.id !== q.id);
    if (!others.length) return null;
    const sel = h(
      "select",
      { "aria-label": t("qa.mergeInto"), "data-key": `merge-sel-${q.id}` },
      others.map((o) => h("option", { value: String(o.id), selected: mergeChoice.get(q.id) === o.id }, `#${o.id} ${o.text.slice(0, 40)}`)),
    );
    sel.addEventListener("change", () => mergeChoice.set(q.id, Number(sel.value)));
    return h(
      "span",
      { class: "merge" },
      sel,
      button(t("qa.merge"), (ev) => moderate(ev.currentTarget, q.id, "merge", { into: Number(sel.value) }), { class: "small secondary", "data-key": `merge-${q.id}` }),
    );
  }

  function questionItem(q, approved) {
    const b = (key, action, cls = "small") =>
      button(t(key), (ev) => moderate(ev.currentTarget, q.id, action), { class: cls, "data-key": `${action}-${q.id}`, "data-action": action });
    const actions = {
      submitted: [b("qa.approve", "approve"), b("qa.reject", "reject", "small danger"), button(t("qa.edit"), () => editQuestion(q), { class: "small secondary", "data-key": `edit-${q.id}` })],
      approved: [
        b("qa.onAir", "on-air", "small primary"),
        q.pinned ? b("qa.unpin", "unpin", "small secondary") : b("qa.pin", "pin", "small secondary"),
        button(t("qa.edit"), () => editQuestion(q), { class: "small secondary", "data-key": `edit-${q.id}` }),
        mergeControl(q, approved),
        b("qa.reject", "reject", "small danger"),
      ],
      on_air: [b("qa.answered", "answered", "small primary"), b("qa.sendBack", "send-back", "small secondary")],
      answered: [b("qa.archive", "archive", "small secondary")],
      rejected: [b("qa.archive", "archive", "small secondary")],
    }[q.state] || [];
    return h(
      "li",
      { class: `q-item q-${q.state}`, "data-question-id": String(q.id), "data-state": q.state },
      h(
        "p",
        { class: "q-line" },
        q.pinned ? h("span", { class: "pill" }, t("qa.pinned")) : null,
        h("span", { class: "q-text" }, q.text),
      ),
      h(
        "p",
        { class: "q-meta note" },
        `#${q.id} · ${q.site_id ? siteName(q.site_id) : t("qa.noSite")} · ${fmtTime(q.created_at)} · ${t("qa.votes", { n: q.vote_count })}`,
        q.also_asked_count ? ` · ${t("qa.alsoAsked", { n: q.also_asked_count })}` : "",
        q.edited ? ` · ${t("qa.edited")}` : "",
      ),
      q.flags && q.flags.length
        ? h("p", { class: "flags" }, h("span", { class: "pill warn" }, t("qa.flagged")), " ", q.flags.join("、"))
        : null,
      q.edited && q.original_text ? h("p", { class: "note original" }, t("qa.original"), " ", q.original_text) : null,
      h("div", { class: "row-actions" }, actions),
      editing.has(q.id) ? editForm(q) : null,
    );
  }

  function renderQaSettings() {
    const cfg = st.qaSettings;
    const wasOpen = qaSettingsBox.querySelector("details")?.open;
    clear(qaSettingsBox);
    if (!cfg) return;
    const auto = h("input", { type: "checkbox", id: "qa-auto", checked: cfg.auto_approve });
    const identity = h("input", { type: "checkbox", id: "qa-identity", checked: cfg.moderators_see_identity });
    const words = h("textarea", { id: "qa-words", rows: "3" });
    words.value = (cfg.sensitive_words || []).join("\n");
    qaSettingsBox.appendChild(
      h(
        "details",
        { open: wasOpen },
        h("summary", {}, t("qa.settings"), " · ", cfg.auto_approve ? t("qa.autoOn") : t("qa.autoOff")),
        h(
          "form",
          {
            onsubmit: async (ev) => {
              ev.preventDefault();
              await act(ev.submitter, async () => {
                st.qaSettings = await api.put(`/sessions/${sessionId}/qa-settings`, {
                  auto_approve: auto.checked,
                  moderators_see_identity: identity.checked,
                  sensitive_words: words.value.split(/[\n,，、]+/).map((w) => w.trim()).filter(Boolean),
                });
                renderQaSettings();
              }, t("manage.saved"));
            },
          },
          h("label", { for: "qa-auto", class: "check" }, auto, " ", t("qa.autoApprove")),
          h("br"),
          h("label", { for: "qa-identity", class: "check" }, identity, " ", t("qa.seeIdentity")),
          field(t("qa.words"), words, t("qa.wordsHint")),
          h("button", { type: "submit", class: "small primary", id: "qa-settings-save" }, t("ui.save")),
        ),
      ),
    );
  }

  function renderModeration() {
    const by = (s) => st.questions.filter((q) => q.state === s);
    const approved = by("approved").sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.vote_count - a.vote_count);
    const groups = [
      ["on_air", by("on_air")],
      ["submitted", by("submitted")],
      ["approved", approved],
      ["answered", by("answered")],
    ];
    rerender(modBox, () =>
      h(
        "div",
        {},
        groups.map(([state, items]) =>
          h(
            "div",
            { class: "q-group", id: `q-group-${state}` },
            h("h3", {}, t("qa.state." + state), " ", h("span", { class: "count" }, `(${items.length})`)),
            items.length ? h("ul", { class: "q-list" }, items.map((q) => questionItem(q, approved))) : h("p", { class: "note" }, t("ui.empty")),
          ),
        ),
      ),
    );
  }

  // ---- roll call ----------------------------------------------------------------------------
  const rollSeconds = h("input", { type: "number", min: "1", max: "3600", value: "60", id: "roll-seconds", class: "short" });
  const rollList = h("div", {});
  rollBox.append(
    h(
      "div",
      { class: "toolbar" },
      field(t("roll.seconds"), rollSeconds),
      button(t("roll.start"), (ev) =>
        act(ev.currentTarget, async () => {
          const call = await api.post(`/sessions/${sessionId}/roll-calls`, { seconds: Number(rollSeconds.value) || 60 });
          upsertRollcall(call);
        }, t("roll.started")), { class: "primary", id: "roll-start" }),
    ),
    rollList,
  );

  const rollDetails = new Map(); // roll call id -> full view with names of who missed it

  async function loadMissed(btn, id) {
    await act(btn, async () => {
      rollDetails.set(id, await api.get(`/roll-calls/${id}`));
      renderRollcalls();
    });
  }

  function missedList(c) {
    const full = rollDetails.get(c.id);
    if (!full) return button(t("roll.showMissed"), (ev) => loadMissed(ev.currentTarget, c.id), { class: "small secondary", "data-key": `missed-${c.id}` });
    const missed = full.missed || [];
    return h(
      "div",
      { class: "missed" },
      h("h4", {}, t("roll.missedNames", { n: missed.length }), " ", button(t("ui.refresh"), (ev) => loadMissed(ev.currentTarget, c.id), { class: "small secondary", "data-key": `missed-${c.id}` })),
      missed.length ? h("ul", {}, missed.map((m) => h("li", {}, `${m.name} · ${siteName(m.site_id)}`))) : h("p", { class: "note" }, t("ui.empty")),
    );
  }

  function upsertRollcall(call) {
    const id = call.id || call.roll_call_id;
    const i = st.rollcalls.findIndex((c) => c.id === id);
    const merged = { ...(i >= 0 ? st.rollcalls[i] : {}), ...call, id };
    if (i >= 0) st.rollcalls[i] = merged;
    else st.rollcalls.push(merged);
    renderRollcalls();
  }

  function renderRollcalls() {
    const calls = [...st.rollcalls].sort((a, b) => b.id - a.id).slice(0, 3);
    rerender(rollList, () =>
      calls.length
        ? h(
            "div",
            {},
            calls.map((c) => {
              const rows = Object.entries(c.by_site || {}).map(([sid, v]) => ({ sid: Number(sid), ...v }));
              const sum = rows.reduce((a, r) => ({ expected: a.expected + r.expected, answered: a.answered + r.answered }), { expected: 0, answered: 0 });
              return h(
                "div",
                { class: "rollcall", "data-roll-call-id": String(c.id) },
                h(
                  "h3",
                  {},
                  t("roll.heading", { id: c.id, time: fmtTime(c.started_at) }),
                  " ",
                  h("span", { class: `badge ${c.closed ? "st-ended" : "st-live"}` }, c.closed ? t("roll.closed") : t("roll.open")),
                ),
                h("p", { class: "note" }, t("roll.total", { answered: sum.answered, expected: sum.expected, rate: pct(sum.answered, sum.expected) }), c.closed ? "" : ` · ${t("roll.deadline", { time: fmtTime(c.deadline) })}`),
                h(
                  "table",
                  { class: "grid compact" },
                  h("thead", {}, h("tr", {}, [t("roll.site"), t("roll.expected"), t("roll.answered"), t("roll.pending"), t("roll.missed"), t("roll.rate")].map((x) => h("th", { scope: "col" }, x)))),
                  h(
                    "tbody",
                    {},
                    rows.length
                      ? rows.map((r) =>
                          h(
                            "tr",
                            { "data-site-id": String(r.sid) },
                            h("th", { scope: "row" }, siteName(r.sid)),
                            h("td", { class: "num" }, String(r.expected)),
                            h("td", { class: "num answered" }, String(r.answered)),
                            h("td", { class: "num" }, String(r.pending)),
                            h("td", { class: "num" }, String(r.missed)),
                            h("td", { class: "num" }, pct(r.answered, r.expected)),
                          ),
                        )
                      : h("tr", {}, h("td", { colspan: "6", class: "empty" }, t("roll.nobody"))),
                  ),
                ),
                missedList(c),
              );
            }),
          )
        : h("p", { class: "note" }, t("roll.none")),
    );
  }

  // ---- polls and quizzes ----------------------------------------------------------------------
  const pPrompt = h("input", { type: "text", maxlength: "500", id: "poll-prompt" });
  const pOptions = h("textarea", { rows: "4", id: "poll-options" });
  const pMode = h("select", { id: "poll-mode" }, h("option", { value: "single" }, t("poll.single")), h("option", { value: "multiple" }, t("poll.multiple")));
  const pCorrect = h("input", { type: "text", id: "poll-correct", inputmode: "numeric" });
  const pLimit = h("input", { type: "number", min: "1", max: "86400", id: "poll-limit", class: "short" });
  const pollList = h("div", {});
  pollBox.append(
    h(
      "details",
      { class: "create" },
      h("summary", {}, t("poll.create")),
      h(
        "form",
        {
          onsubmit: async (ev) => {
            ev.preventDefault();
            const options = pOptions.value.split("\n").map((s) => s.trim()).filter(Boolean);
            const body = { prompt: pPrompt.value.trim(), options, mode: pMode.value };
            const correct = pCorrect.value.split(/[,，\s]+/).filter(Boolean).map((n) => Number(n) - 1);
            if (correct.length) body.correct = correct;
            if (correct.some((n) => !Number.isInteger(n) || n < 0 || n >= options.length)) {
              flash(t("poll.badCorrect"), "error");
              return;
            }
            await act(ev.submitter, async () => {
              await api.post(`/sessions/${sessionId}/polls`, body);
              pPrompt.value = "";
              pOptions.value = "";
              pCorrect.value = "";
              schedule("polls");
            }, t("poll.created"));
          },
        },
        field(t("poll.prompt"), pPrompt),
        field(t("poll.options"), pOptions, t("poll.optionsHint")),
        field(t("poll.mode"), pMode),
        field(t("poll.correct"), pCorrect, t("poll.correctHint")),
        h("button", { type: "submit", class: "primary", id: "poll-create" }, t("poll.createBtn")),
      ),
    ),
    field(t("poll.limit"), pLimit, t("poll.limitHint")),
    pollList,
  );

  function renderPolls() {
    const polls = [...st.polls].sort((a, b) => b.id - a.id);
    rerender(pollList, () =>
      polls.length
        ? h(
            "div",
            {},
            polls.map((p) => {
              const tally = p.tally || { answers: 0, per_option: p.options.map(() => 0), per_site: {} };
              const max = Math.max(1, ...tally.per_option);
              const correct = new Set(p.correct || []);
              return h(
                "div",
                { class: "poll", "data-poll-id": String(p.id), "data-state": p.state },
                h("h3", {}, p.prompt, " ", h("span", { class: `badge pl-${p.state}` }, t("poll.state." + p.state)), p.is_quiz ? h("span", { class: "pill" }, t("poll.quiz")) : null),
                h(
                  "ol",
                  { class: "poll-options" },
                  p.options.map((o, i) =>
                    h(
                      "li",
                      { class: correct.has(i) ? "correct" : null },
                      h("span", { class: "opt" }, o, correct.has(i) ? ` ✓ ${t("poll.correctMark")}` : ""),
                      h("meter", { min: "0", max: String(max), value: String(tally.per_option[i] || 0), "aria-label": o }),
                      h("span", { class: "num" }, `${tally.per_option[i] || 0} (${pct(tally.per_option[i] || 0, tally.answers)})`),
                    ),
                  ),
                ),
                h("p", { class: "note" }, t("poll.answers", { n: tally.answers })),
                Object.keys(tally.per_site || {}).length
                  ? h(
                      "details",
                      {},
                      h("summary", {}, t("poll.perSite")),
                      h(
                        "table",
                        { class: "grid compact" },
                        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("roll.site")), p.options.map((o, i) => h("th", { scope: "col" }, `${i + 1}`)))),
                        h(
                          "tbody",
                          {},
                          Object.entries(tally.per_site).map(([sid, counts]) =>
                            h("tr", {}, h("th", { scope: "row" }, siteName(sid)), counts.map((c) => h("td", { class: "num" }, String(c)))),
                          ),
                        ),
                      ),
                    )
                  : null,
                h(
                  "div",
                  { class: "row-actions" },
                  p.state === "draft"
                    ? button(t("poll.launch"), (ev) =>
                        act(ev.currentTarget, async () => {
                          const limit = Number(pLimit.value);
                          await api.post(`/polls/${p.id}/launch`, limit > 0 ? { time_limit: limit } : {});
                          schedule("polls");
                        }), { class: "small primary", "data-key": `launch-${p.id}` })
                    : null,
                  p.state === "open"
                    ? button(t("poll.close"), (ev) =>
                        act(ev.currentTarget, async () => {
                          await api.post(`/polls/${p.id}/close`);
                          schedule("polls");
                        }), { class: "small", "data-key": `close-${p.id}` })
                    : null,
                ),
              );
            }),
          )
        : h("p", { class: "note" }, t("poll.none")),
    );
  }

  // ---- live events --------------------------------------------------------------------------
  function onLive(m) {
    if (st.destroyed) return;
    if (m.topic === "presence") {
      if (m.type === "resync") {
        // The snapshot is the truth at (re)subscription, whether or not the session is loaded
        // yet: keep it for sites the session adds later, apply it to the tiles there are.
        for (const s of (m.snapshot && m.snapshot.sites) || []) {
          st.siteNames.set(s.id, s.name);
          const known = { state: s.state, lastBeat: s.last_heartbeat || 0, health: s.health || null, screen: s.screen || null };
          st.presence.set(s.id, known);
          const site = st.sites.get(s.id);
          if (site) {
            site.state = known.state;
            site.lastBeat = Math.max(site.lastBeat, known.lastBeat);
            if (known.health) site.health = known.health;
            if (known.screen) site.screen = known.screen;
          }
        }
        renderWall();
      } else if (m.kind === "presence") {
        const id = Number(m.data.site_id);
        st.presence.set(id, { ...(st.presence.get(id) || {}), state: m.data.state });
        const site = st.sites.get(id);
        if (site) {
          site.state = m.data.state;
          site.reason = m.data.reason;
          site.since = m.data.at || Date.now() / 1000;
          if (m.data.state !== "offline") site.lastBeat = Math.max(site.lastBeat, m.data.at || 0);
          touch(site.id);
        }
      }
      return;
    }
    if (m.topic === "health") {
      if (m.type === "event" && m.kind === "screen") {
        const id = Number(m.data.site_id);
        st.presence.set(id, { ...(st.presence.get(id) || {}), screen: m.data });
        const site = st.sites.get(id);
        if (site) {
          site.screen = m.data;
          // a screen page's report is its site's heartbeat (a room without an agent)
          if (m.data.at) site.lastBeat = Math.max(site.lastBeat, m.data.at);
          touch(id);
        }
      } else if (m.type === "event") {
        const site = st.sites.get(Number(m.data.site_id));
        if (site) {
          site.health = m.data;
          site.lastBeat = m.data.at || Date.now() / 1000;
          touch(site.id);
        }
      }
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
    else if (kind.startsWith("roll_call")) {
      if (m.data && m.data.by_site) upsertRollcall({ ...m.data, id: m.data.roll_call_id });
      else schedule("rollcalls");
    } else if (kind === "poll_tally") {
      const p = st.polls.find((x) => x.id === m.data.poll_id);
      if (p) {
        p.tally = { answers: m.data.answers, per_option: m.data.per_option, per_site: m.data.per_site };
        renderPolls();
      } else schedule("polls");
    } else if (kind.startsWith("poll")) schedule("polls");
    else if (kind.startsWith("session")) schedule("session", "headcount", "broadcast");
    else if (kind.startsWith("broadcast") || kind === "program_changed" || kind === "relays_changed") schedule("broadcast");
    else if (kind.startsWith("checkin")) headcountSoon(); // someone checked in/out or was marked
    else if (kind.startsWith("media")) schedule("headcount");
    else schedule(...GROUPS);
  }

  let wasClosed = false;
  function onConn(s) {
    if (s === "open" && wasClosed) schedule(...GROUPS);
    wasClosed = s !== "open";
  }

  hub.listeners.add(onLive);
  hub.stateListeners.add(onConn);
  const socket = hub.start();
  socket.subscribe(["presence", "health", topic]);

  const ticker = setInterval(() => {
    // "n s ago" of the tiles on screen (all of them where IntersectionObserver is missing)
    for (const [id, ref] of tiles) {
      if (observer && !visible.has(id)) continue;
      const site = st.sites.get(id);
      if (site) setText(ref.facts.beat, ago(site.lastBeat));
      if (site && site.screen && screenState(site.screen) !== ref.tile.dataset.screen) touch(id);
    }
    const cd = document.getElementById("floor-countdown");
    if (cd) {
      cd.textContent = countdownText();
      if (remaining() === 0) schedule("floor", "queue");
    }
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
      clearTimeout(headcountLater);
      clearInterval(broadcastTimer);
      camera.detach(); // the stream and its publication go on (see own)
      guard.destroy();
      hub.listeners.delete(onLive);
      hub.stateListeners.delete(onConn);
      if (hub.socket) hub.socket.unsubscribe(["presence", "health", topic]);
      if (observer) observer.disconnect();
      for (const feed of media.feeds.values()) if (feed.handle) feed.handle.close();
      media.feeds.clear();
      if (media.program) media.program.close();
    },
  };
}

export { nextId };
