// @ts-check
// Roll calls: start one (with its answer time), the last three with answers per site, and the
// names of who missed one. Tallies arrive live and are applied straight from the event.
import { h } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { act, button, field, fmtTime, pct } from "../ui.js";
import { rerender } from "./context.js";

/** @param {import("./context.js").Dash} ctx */
export function rollcallsPanel(ctx) {
  const { st, sessionId, siteName } = ctx;
  const box = h("div", { class: "rollcalls" });
  const rollSeconds = /** @type {HTMLInputElement} */ (h("input", { type: "number", min: "1", max: "3600", value: "60", id: "roll-seconds", class: "short" }));
  const rollList = h("div", {});
  box.append(
    h(
      "div",
      { class: "toolbar" },
      field(t("roll.seconds"), rollSeconds),
      button(t("roll.start"), (/** @type {Event} */ ev) =>
        act(ev.currentTarget, async () => {
          const call = await api.post(`/sessions/${sessionId}/roll-calls`, { seconds: Number(rollSeconds.value) || 60 });
          upsert(call);
        }, t("roll.started")), { class: "primary", id: "roll-start" }),
    ),
    rollList,
  );

  /** @type {Map<number, any>} roll call id -> full view with names of who missed it */
  const details = new Map();

  /**
   * @param {EventTarget | null} btn
   * @param {number} id
   */
  async function loadMissed(btn, id) {
    await act(btn, async () => {
      details.set(id, await api.get(`/roll-calls/${id}`));
      render();
    });
  }

  /** @param {any} c a roll call */
  function missedList(c) {
    const full = details.get(c.id);
    if (!full) return button(t("roll.showMissed"), (/** @type {Event} */ ev) => loadMissed(ev.currentTarget, c.id), { class: "small secondary", "data-key": `missed-${c.id}` });
    const missed = full.missed || [];
    return h(
      "div",
      { class: "missed" },
      h("h4", {}, t("roll.missedNames", { n: missed.length }), " ", button(t("ui.refresh"), (/** @type {Event} */ ev) => loadMissed(ev.currentTarget, c.id), { class: "small secondary", "data-key": `missed-${c.id}` })),
      missed.length ? h("ul", {}, missed.map((/** @type {any} */ m) => h("li", {}, `${m.name} · ${siteName(m.site_id)}`))) : h("p", { class: "note" }, t("ui.empty")),
    );
  }

  /**
   * A roll call's new view (from a start or a live tally) replaces what is known of it.
   * @param {any} call
   */
  function upsert(call) {
    const id = call.id || call.roll_call_id;
    const i = st.rollcalls.findIndex((c) => c.id === id);
    const merged = { ...(i >= 0 ? st.rollcalls[i] : {}), ...call, id };
    if (i >= 0) st.rollcalls[i] = merged;
    else st.rollcalls.push(merged);
    render();
  }

  /**
   * The roll call's place in this session (1 for its first), not its id across sessions.
   * @param {any} c a roll call
   */
  function ordinal(c) {
    return 1 + st.rollcalls.filter((other) => other.id < c.id).length;
  }

  /** @param {any} c a roll call */
  function rollcall(c) {
    /** @type {{sid: number, expected: number, answered: number, pending: number, missed: number}[]} */
    const rows = Object.entries(c.by_site || {}).map(([sid, v]) => ({ sid: Number(sid), ...v }));
    const sum = rows.reduce((a, r) => ({ expected: a.expected + r.expected, answered: a.answered + r.answered }), { expected: 0, answered: 0 });
    return h(
      "div",
      { class: "rollcall", "data-roll-call-id": String(c.id) },
      h(
        "h3",
        {},
        t("roll.heading", { n: ordinal(c), time: fmtTime(c.started_at) }),
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
  }

  function render() {
    const calls = [...st.rollcalls].sort((a, b) => b.id - a.id).slice(0, 3);
    rerender(rollList, () => (calls.length ? h("div", {}, calls.map(rollcall)) : h("p", { class: "note" }, t("roll.none"))));
  }

  /**
   * A "roll_call…" event of the session: a tally is applied at once, anything else reloads.
   * @param {any} data
   */
  function onEvent(data) {
    if (data && data.by_site) upsert({ ...data, id: data.roll_call_id });
    else ctx.schedule("rollcalls");
  }

  const loaders = {
    rollcalls: async () => {
      st.rollcalls = (await api.get(`/sessions/${sessionId}/roll-calls`)).items;
      render();
    },
  };

  return { el: box, onEvent, loaders };
}
