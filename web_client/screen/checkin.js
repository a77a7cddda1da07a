// @ts-check
// The check-in panel of the site screen: the session's rotating code and its QR code (a link to
// the trainee page), read again each time it rotates.
import { $ } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, ApiError } from "/static/shared/api.js";
import qrcode from "/static/vendor/qrcode-generator/qrcode.js";
import { state, signedOut } from "./state.js";

/**
 * Read the session's code and show it; read it again when it rotates.
 * @param {(err: unknown) => void} onSignedOut the screen has to sign in again
 */
export async function loadCode(onSignedOut) {
  clearTimeout(state.codeTimer);
  if (!state.session) return;
  const sessionId = state.session.id;
  let delay = 3000;
  try {
    const answer = await api.get(`/sessions/${sessionId}/checkin-code`);
    if (!state.session || state.session.id !== sessionId) return;
    state.code = { code: answer.code, qr: answer.qr, until: Date.now() + answer.seconds_to_rotation * 1000 };
    delay = answer.seconds_to_rotation * 1000 + 300;
  } catch (err) {
    if (signedOut(err)) {
      onSignedOut(err);
      return;
    }
    if (err instanceof ApiError && err.code === "checkin.session_not_live") {
      state.code = null;
      delay = 15000;
    }
    console.warn(err);
  }
  renderCode();
  state.codeTimer = setTimeout(() => loadCode(onSignedOut), Math.max(500, delay));
}

function checkinUrl(qr) {
  return `${window.location.origin}/trainee/#checkin=${encodeURIComponent(qr)}`;
}

function drawQr(canvas, text) {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  const count = qr.getModuleCount();
  const quiet = 4;
  const size = canvas.width;
  const cell = Math.floor(size / (count + quiet * 2));
  const offset = Math.floor((size - cell * count) / 2);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = "#000000";
  for (let r = 0; r < count; r += 1) {
    for (let c = 0; c < count; c += 1) {
      if (qr.isDark(r, c)) ctx.fillRect(offset + c * cell, offset + r * cell, cell, cell);
    }
  }
}

export function renderCode() {
  const panel = $("#checkin-panel");
  const code = state.code;
  panel.hidden = !code;
  if (!code) return;
  const canvas = $("#qr");
  const url = checkinUrl(code.qr);
  if (canvas.dataset.url !== url) {
    drawQr(canvas, url);
    canvas.dataset.url = url;
  }
  canvas.setAttribute("aria-label", t("checkin.qr_label"));
  $("#checkin-code").textContent = code.code;
  renderRotation();
}

export function renderRotation() {
  if (!state.code) return;
  const left = Math.max(0, Math.ceil((state.code.until - Date.now()) / 1000));
  $("#checkin-rotation").textContent = t("checkin.rotates", { s: left });
}
