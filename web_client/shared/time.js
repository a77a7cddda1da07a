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

/**
 * How a date and time are written: zh "2026/12/06 16:00"; en "6 Dec 2026, 16:00", with the
 * month's name (read by people from places that write 12/06 and 06/12 for different days).
 * @type {{zh: Intl.DateTimeFormatOptions, en: Intl.DateTimeFormatOptions}}
 */
const DATE_TIME = {
  zh: { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" },
  en: { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" },
};

/** A moment as a date and time in the deployment's zone (see DATE_TIME). */
export function fmtDateTime(iso, lang, options = {}) {
  const d = iso ? parse(iso) : null;
  if (!d) return iso ? String(iso) : "—";
  return d.toLocaleString(locale(lang), { timeZone: zone, ...(lang === "en" ? DATE_TIME.en : DATE_TIME.zh), ...options });
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

/** The wall-clock parts of a moment in the deployment's zone, as epoch ms "as if UTC". @param {Date} d */
function wallClockMs(d) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
}

/**
 * A datetime-local input's value ("2026-12-07T09:00") for a moment, in the deployment's zone:
 * the console shows every time there, so the forms are typed there too, wherever the browser is.
 * @param {string|Date|null|undefined} when
 */
export function inputValue(when) {
  const d = when instanceof Date ? when : when ? parse(when) : null;
  return d ? new Date(wallClockMs(d)).toISOString().slice(0, 16) : "";
}

/**
 * The moment (ISO 8601, UTC) a datetime-local value typed in the deployment's zone stands for.
 * @param {string} value "2026-12-07T09:00"
 */
export function isoFromInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!m) return "";
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  let at = wall - (wallClockMs(new Date(wall)) - wall); // minus the zone's offset at that moment
  at = wall - (wallClockMs(new Date(at)) - at); // again, in case the offset differs there (DST)
  return new Date(at).toISOString();
}
