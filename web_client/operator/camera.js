// @ts-check
// The operator's camera and microphone for "主课堂摄像机": device choice, a local preview and
// an audio level meter. The dashboard asks for the stream when it starts (or resumes)
// publishing; a device changed while publishing hands the new stream to onChange.
import { h, clear } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { button, field } from "./ui.js";
import "./media_messages.js";

/** Why getUserMedia failed, in the operator's words. */
export function cameraErrorText(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return t("camera.denied");
  if (name === "NotFoundError" || name === "OverconstrainedError") return t("camera.notFound");
  if (name === "NotReadableError" || name === "AbortError") return t("camera.busy");
  if (name === "InsecureContext") return t("camera.insecure");
  return t("camera.failed", { error: String((err && err.message) || err) });
}

// The open camera outlives a view (a language switch re-creates the dashboard).
/** @type {{stream: MediaStream | null}} */
const held = { stream: null };

/**
 * @param {{onChange?: (stream: MediaStream) => Promise<void> | void, inUse?: () => boolean}} [options]
 *   onChange: another device was chosen while open; inUse: the stream is being published (closing
 *   the preview then only hides it: the rooms keep the camera)
 */
export function cameraControls({ onChange, inUse = () => false } = {}) {
  const use = h("input", { type: "checkbox", id: "bc-use-camera", checked: true });
  const camSel = h("select", { id: "bc-camera" }, h("option", { value: "" }, t("camera.default")));
  const micSel = h("select", { id: "bc-mic" }, h("option", { value: "" }, t("camera.default")));
  const preview = h("video", { id: "bc-local", class: "local-preview", muted: true, playsinline: true, autoplay: true, hidden: true, "aria-label": t("camera.preview") });
  const level = h("meter", { id: "bc-level", min: "0", max: "1", low: "0.02", high: "0.9", optimum: "0.3", value: "0", "aria-label": t("camera.level") });
  const msg = h("p", { class: "note", role: "status", id: "bc-camera-msg" });
  const box = h("div", { class: "camera", id: "bc-camera-box" });
  /** @type {{audio: AudioContext | null, raf: number, busy: Promise<MediaStream> | null, stream: MediaStream | null}} */
  const st = {
    audio: null,
    raf: 0,
    busy: null,
    get stream() {
      return held.stream;
    },
    set stream(value) {
      held.stream = value;
    },
  };

  function available() {
    return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    /** @type {[HTMLSelectElement, string, string][]} */
    const pickers = [
      [camSel, "videoinput", "camera.cameraN"],
      [micSel, "audioinput", "camera.micN"],
    ];
    for (const [select, kind, fallback] of pickers) {
      const picked = select.value;
      clear(select).appendChild(h("option", { value: "" }, t("camera.default")));
      devices
        .filter((d) => d.kind === kind && d.deviceId && d.deviceId !== "default")
        .forEach((d, i) => select.appendChild(h("option", { value: d.deviceId }, d.label || t(fallback, { n: i + 1 }))));
      if ([...select.options].some((o) => o.value === picked)) select.value = picked;
    }
  }

  function stopMeter() {
    cancelAnimationFrame(st.raf);
    st.raf = 0;
    if (st.audio) st.audio.close().catch(() => {});
    st.audio = null;
    level.value = 0;
  }

  function startMeter(stream) {
    stopMeter();
    const Ctx = window.AudioContext || /** @type {any} */ (window).webkitAudioContext; // older Safari
    if (!Ctx || !stream.getAudioTracks().length) return;
    const ctx = new Ctx();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    ctx.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    st.audio = ctx;
    ctx.resume().catch(() => {}); // opened from a click: allowed to run
    let shown = 0;
    const frame = () => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const v of samples) sum += v * v;
      const rms = Math.sqrt(sum / samples.length);
      // fast attack, slow release: a speaking voice reads as a steady bar
      shown = Math.max(Math.min(1, rms * 4), shown * 0.9);
      level.value = shown;
      level.dataset.peak = String(Math.max(Number(level.dataset.peak || 0), shown));
      st.raf = requestAnimationFrame(frame);
    };
    frame();
  }

  function release() {
    stopMeter();
    if (st.stream) for (const track of st.stream.getTracks()) track.stop();
    st.stream = null;
    preview.srcObject = null;
    preview.hidden = true;
    syncToggle();
  }

  // 打开预览 / 关闭预览: one button, saying what a click does now
  const toggle = button(t("camera.test"), () => togglePreview(), { id: "bc-camera-test", class: "secondary", "aria-pressed": "false" });
  function syncToggle() {
    const shown = !preview.hidden;
    toggle.textContent = t(shown ? "camera.close" : "camera.test");
    toggle.setAttribute("aria-pressed", String(shown));
  }

  function togglePreview() {
    if (preview.hidden) {
      if (st.stream && st.stream.getTracks().some((tr) => tr.readyState === "live")) show(st.stream);
      else open().catch(() => {});
      return;
    }
    if (!inUse()) {
      release(); // the camera's light goes off too
      msg.textContent = "";
      return;
    }
    stopMeter();
    preview.srcObject = null;
    preview.hidden = true;
    syncToggle();
  }

  /** The stream of the chosen devices (opened once; again after a device change). */
  async function open() {
    if (st.stream && st.stream.getTracks().every((tr) => tr.readyState === "live")) return st.stream;
    if (st.busy) return st.busy;
    st.busy = (async () => {
      if (!available()) {
        const err = new Error("getUserMedia needs HTTPS or localhost");
        err.name = "InsecureContext";
        throw err;
      }
      release();
      const constraint = (value) => (value ? { deviceId: { exact: value } } : true);
      const stream = await navigator.mediaDevices.getUserMedia({
        video: camSel.value ? { deviceId: { exact: camSel.value }, width: { ideal: 1280 }, height: { ideal: 720 } } : { width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: constraint(micSel.value),
      });
      st.stream = stream;
      show(stream);
      await listDevices();
      return stream;
    })();
    try {
      return await st.busy;
    } catch (err) {
      msg.textContent = cameraErrorText(err);
      throw err;
    } finally {
      st.busy = null;
    }
  }

  function show(stream) {
    preview.srcObject = stream;
    preview.hidden = false;
    syncToggle();
    preview.play().catch(() => {});
    startMeter(stream);
    msg.textContent = t("camera.ready", { video: trackLabel(stream, "video"), audio: trackLabel(stream, "audio") });
  }

  function trackLabel(stream, kind) {
    const track = stream.getTracks().find((tr) => tr.kind === kind);
    return track ? track.label || kind : t("camera.missing");
  }

  async function deviceChanged() {
    if (!st.stream) return;
    release();
    try {
      const stream = await open();
      if (onChange) await onChange(stream);
    } catch (_err) {
      /* the message says why */
    }
  }
  camSel.addEventListener("change", deviceChanged);
  micSel.addEventListener("change", deviceChanged);
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener("devicechange", () => listDevices().catch(() => {}));
  }

  box.append(
    h("label", { for: "bc-use-camera", class: "check" }, use, " ", t("camera.use")),
    h(
      "div",
      { class: "toolbar" },
      field(t("camera.camera"), camSel),
      field(t("camera.mic"), micSel),
      toggle,
    ),
    h("div", { class: "camera-preview" }, preview, h("div", { class: "level" }, h("span", {}, t("camera.level")), level)),
    msg,
  );
  listDevices().catch(() => {});
  if (st.stream && st.stream.getTracks().some((tr) => tr.readyState === "live")) show(st.stream);

  return {
    detach() {
      stopMeter();
      preview.srcObject = null;
    },
    element: box,
    wanted: () => use.checked,
    open,
    close: release,
    get stream() {
      return st.stream;
    },
    say(text) {
      msg.textContent = text;
    },
  };
}
