// @ts-check
// The dashboard's check-in security panel: trainees who keep entering wrong check-in codes
// (live, from the staff-only "alerts" topic, and from GET /sessions/{id}/checkin-failures) and
// the session setting "typed codes and site marks at any room" (PUT /sessions/{id}/settings).
import { h, clear } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api, ApiError } from "/static/shared/api.js";
import { TopicFollower } from "/static/shared/live_events.js";
import { act, flash, fmtTime } from "./ui.js";

addMessages({
  zh: {
    "guard.title": "签到安全",
    "guard.count": "输错签到码的学员：{n} 人，共输错 {total} 次",
    "guard.none": "目前没有学员输错签到码。",
    "guard.name": "学员",
    "guard.failures": "连续输错",
    "guard.total": "累计",
    "guard.last": "最近一次",
    "guard.wait": "需等待",
    "guard.seconds": "{s} 秒",
    "guard.alert": "{name} 已连续输错签到码 {n} 次",
    "guard.paused": "本场一分钟内输错签到码 {n} 次，已暂停输入签到码 {s} 秒（扫码签到不受影响）",
    "guard.anyRoom": "允许学员在任一分课堂输入签到码、分课堂标记任何学员（默认只限学员所属课堂）",
    "guard.saved": "签到范围已保存",
  },
  en: {
    "guard.title": "Check-in security",
    "guard.count": "Trainees who entered wrong check-in codes: {n}, {total} wrong codes in all",
    "guard.none": "No wrong check-in codes so far.",
    "guard.name": "Trainee",
    "guard.failures": "In a row",
    "guard.total": "Total",
    "guard.last": "Last",
    "guard.wait": "Must wait",
    "guard.seconds": "{s} s",
    "guard.alert": "{name} entered a wrong check-in code {n} times in a row",
    "guard.paused": "{n} wrong check-in codes in this session within a minute: typed codes paused for {s} s (scanning the QR still works)",
    "guard.anyRoom": "Accept typed codes at any room, and let any room mark any trainee (default: the trainee's own room only)",
    "guard.saved": "Check-in scope saved",
  },
});

export const ALERTS_TOPIC = "alerts";

/** Build the panel's content; returns {el, destroy}. */
export function checkinGuardPanel(sessionId, hub) {
  /** @type {{data: any, settings: any, timer: ReturnType<typeof setTimeout> | undefined}} */
  const st = { data: null, settings: null, timer: undefined };
  const summary = h("p", { id: "guard-summary", "aria-live": "polite" });
  const list = h("div", { id: "guard-list" });
  const scope = h("div", { id: "guard-scope" });
  const el = h("div", { class: "checkin-guard" }, summary, list, scope);

  function render() {
    const data = st.data;
    clear(summary);
    clear(list);
    if (!data) return;
    const items = data.items || [];
    summary.textContent = items.length ? t("guard.count", { n: items.length, total: data.total_failures }) : t("guard.none");
    if (data.typed_codes_paused_for > 0) summary.textContent += ` · ${t("guard.paused", { n: data.session_limit, s: data.typed_codes_paused_for })}`;
    summary.className = items.some((i) => i.failures >= 3) || data.typed_codes_paused_for > 0 ? "warn" : "note";
    if (!items.length) return;
    list.appendChild(
      h(
        "table",
        { class: "grid compact" },
        h("thead", {}, h("tr", {}, ["guard.name", "guard.failures", "guard.total", "guard.last", "guard.wait"].map((k) => h("th", { scope: "col" }, t(k))))),
        h(
          "tbody",
          {},
          items.slice(0, 20).map((i) =>
            h(
              "tr",
              { "data-trainee": String(i.trainee_id) },
              h("td", {}, i.name || `#${i.trainee_id}`, i.staff_no ? ` (${i.staff_no})` : ""),
              h("td", { class: "num" }, String(i.failures)),
              h("td", { class: "num" }, String(i.total)),
              h("td", {}, fmtTime(i.last_failure)),
              h("td", { class: "num" }, i.retry_after > 0 ? t("guard.seconds", { s: i.retry_after }) : "—"),
            ),
          ),
        ),
      ),
    );
  }

  function renderScope() {
    clear(scope);
    if (!st.settings) return;
    const box = h("input", { type: "checkbox", id: "guard-any-room", checked: Boolean(st.settings.any_room) });
    box.addEventListener("change", () =>
      act(box, async () => {
        st.settings = await api.put(`/sessions/${sessionId}/settings`, { any_room: box.checked });
        renderScope();
      }, t("guard.saved")),
    );
    scope.appendChild(h("label", { for: "guard-any-room", class: "check" }, box, " ", t("guard.anyRoom")));
  }

  async function load() {
    st.data = await api.get(`/sessions/${sessionId}/checkin-failures`);
    render();
  }

  function schedule() {
    clearTimeout(st.timer);
    st.timer = setTimeout(() => load().catch(() => {}), 300);
  }

  /** @param {any} d a "checkin_failures" event: a trainee's wrong codes, or the session's pause */
  function onFailures(d) {
    if (Number(d.session_id) !== Number(sessionId)) return;
    flash(d.scope === "session" ? t("guard.paused", { n: d.failures, s: d.retry_after }) : t("guard.alert", { name: d.name || `#${d.trainee_id}`, n: d.failures }), "error");
    schedule();
  }

  const alerts = new TopicFollower(hub, { handlers: { checkin_failures: onFailures } });
  hub.start();
  alerts.follow(ALERTS_TOPIC);
  load().catch(() => {});
  api
    .get(`/sessions/${sessionId}/settings`)
    .then((s) => {
      st.settings = s;
      renderScope();
    })
    .catch((err) => {
      if (!(err instanceof ApiError && err.status === 403)) console.warn(err);
    });
  const poll = setInterval(schedule, 30000);

  return {
    el,
    destroy() {
      clearTimeout(st.timer);
      clearInterval(poll);
      alerts.close();
    },
  };
}
