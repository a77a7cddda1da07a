// @ts-check
// The deployment's time zone (issue 15.10): every page shows times in the server's configured
// zone (GET /api/v1/time, default Asia/Shanghai), not in the zone of the kiosk PC or phone.
let zone = "Asia/Shanghai";

/** Resolves once the server's zone is known (formatting before that uses Asia/Shanghai). */
export const timeZoneReady = fetch("/api/v1/time", { credentials: "same-origin" })
  .then((r) => (r.ok ? r.json() : null))
  .then((body) => {
    if (body && body.time_zone) zone = body.time_zone;
    return zone;
  })
  .catch(() => zone);

export function timeZone() {
  return zone;
}

function locale(lang) {
  return lang === "en" ? "en-GB" : "zh-CN";
}

function parse(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "2026/12/06 16:00" in the deployment's zone. */
export function fmtDateTime(iso, lang, options = {}) {
  const d = iso ? parse(iso) : null;
  if (!d) return iso ? String(iso) : "—";
  return d.toLocaleString(locale(lang), { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", ...options });
}

/** "2026-12-06": the calendar day in the deployment's zone. */
export function fmtDate(iso) {
  const d = iso ? parse(iso) : null;
  if (!d) return "";
  return d.toLocaleDateString("sv-SE", { timeZone: zone });
}

/** "16:00:24" in the deployment's zone (no ``iso``: now). */
export function fmtClock(iso, lang, options = {}) {
  const d = iso ? parse(iso) : new Date();
  return d ? d.toLocaleTimeString(locale(lang), { timeZone: zone, ...options }) : "";
}
