// @ts-check
// Small UI helpers shared by the operator console's views. All user text goes in as text.
import { h, clear } from "/static/shared/dom.js";
import { t, getLang } from "/static/shared/i18n.js";
import { errorText } from "/static/shared/api.js";
import { fmtClock, fmtDateTime as zonedDateTime } from "/static/shared/time.js";

let flashTimer = null;

/** Show a message in the page's live region (kind: "ok" | "error" | "warn" | "info").
 * "error" and "warn" stay until dismissed. */
export function flash(message, kind = "info") {
  const box = document.getElementById("flash");
  if (!box) return;
  clear(box);
  box.className = `flash flash-${kind}`;
  box.appendChild(
    h(
      "p",
      { class: "flash-text", role: kind === "error" || kind === "warn" ? "alert" : null },
      message,
      " ",
      h("button", { type: "button", class: "link", onclick: () => clear(box), "aria-label": t("ui.dismiss") }, "×"),
    ),
  );
  clearTimeout(flashTimer);
  if (kind !== "error" && kind !== "warn") flashTimer = setTimeout(() => clear(box), 6000);
}

export function flashError(err) {
  flash(errorText(err), "error");
  if (err && err.status === 401) window.dispatchEvent(new CustomEvent("auth-lost"));
}

/**
 * Run an async action from a button: disables it meanwhile, shows errors as messages.
 * @template T
 * @param {EventTarget | null | undefined} control the button (or any control) that started it
 * @param {() => Promise<T> | T} fn
 * @param {string} [okMessage] shown when it went well
 * @returns {Promise<T | undefined>}
 */
export async function act(control, fn, okMessage) {
  const btn = /** @type {HTMLButtonElement | null | undefined} */ (control);
  if (btn) btn.disabled = true;
  try {
    const result = await fn();
    if (okMessage) flash(okMessage, "ok");
    return result;
  } catch (err) {
    flashError(err);
    return undefined;
  } finally {
    if (btn) btn.disabled = false;
  }
}

let uid = 0;
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: returns the wrapper; the control keeps the given id or a fresh one. */
export function field(label, control, hint) {
  if (!control.id) control.id = nextId();
  return h(
    "div",
    { class: "field" },
    h("label", { for: control.id }, label),
    control,
    hint ? h("small", { class: "hint" }, hint) : null,
  );
}

export function button(label, onclick, attrs = {}) {
  return h("button", { type: "button", ...attrs, onclick }, label);
}

/**
 * Ask once more, on the page, before a consequential action (as 个人码 does before replacing
 * codes): the question with a yes and a cancel button, drawn in ``box`` (emptied first).
 * Yes runs ``onYes`` with the yes button (then the question goes, whatever ``onYes`` drew in
 * ``box`` stays); cancel only removes it.
 * @param {HTMLElement} box where the question is drawn
 * @param {string} question
 * @param {string} yesLabel
 * @param {(yes: HTMLButtonElement) => unknown} onYes
 * @param {{id?: string, danger?: boolean}} [options] id: of the question (its buttons: id-yes, id-no)
 */
export function askInline(box, question, yesLabel, onYes, { id = nextId("ask"), danger = false } = {}) {
  const yes = /** @type {HTMLButtonElement} */ (
    h("button", {
      type: "button",
      class: danger ? "danger" : "primary",
      id: `${id}-yes`,
      onclick: async () => {
        await onYes(yes);
        dialog.remove();
      },
    }, yesLabel)
  );
  const dialog = h(
    "div",
    { class: "inline-form", role: "alertdialog", id, "aria-labelledby": `${id}-text` },
    h("p", { id: `${id}-text` }, question),
    h("div", { class: "row-actions" }, yes, h("button", { type: "button", id: `${id}-no`, onclick: () => dialog.remove() }, t("ui.cancel"))),
  );
  clear(box).appendChild(dialog);
  yes.focus();
}

/**
 * Date and time in the deployment's time zone (server setting time_zone).
 * @param {string} iso
 * @param {Intl.DateTimeFormatOptions} [options] e.g. { year: undefined, month: "short", day: "numeric" }: "12月8日 09:00"
 */
export function fmtDateTime(iso, options = {}) {
  return zonedDateTime(iso, getLang(), options);
}

export function fmtTime(iso) {
  if (!iso) return "—";
  return fmtClock(iso, getLang()) || String(iso);
}

/** "12 s ago" style text for an epoch time in seconds. */
export function ago(epochSeconds) {
  if (!epochSeconds) return t("ui.never");
  const s = Math.max(0, Math.round(Date.now() / 1000 - epochSeconds));
  if (s < 60) return t("ui.secondsAgo", { n: s });
  if (s < 3600) return t("ui.minutesAgo", { n: Math.floor(s / 60) });
  return t("ui.hoursAgo", { n: Math.floor(s / 3600) });
}

/** A share (0 to 1) as a percentage with one decimal: 0.1429 -> "14.3%". @param {number} share */
export function percent(share) {
  return `${Math.round(share * 1000) / 10}%`;
}

export function pct(num, den) {
  if (!den) return "—";
  return `${Math.round((100 * num) / den)}%`;
}

/** A simple table: columns = [{label, cell(row) -> node|string, class?}]. */
export function table(columns, rows, attrs = {}) {
  const { caption, ...rest } = attrs;
  return h(
    "table",
    { class: "grid", ...rest },
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
    h(
      "tbody",
      {},
      rows.length
        ? rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class }, c.cell(row)))))
        : h("tr", {}, h("td", { colspan: String(columns.length), class: "empty" }, t("ui.empty"))),
    ),
  );
}

export function section(titleKey, ...children) {
  const id = nextId("sec");
  return h(
    "section",
    { class: "panel", "aria-labelledby": id },
    h("h2", { id }, t(titleKey)),
    ...children,
  );
}
