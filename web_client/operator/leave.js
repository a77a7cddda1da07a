// @ts-check
// Between the live days, the training office's side (issue 17.2): #/leave, leave approvals
// (请假审批) with each trainee's share before/after vs the program's limit (1/7); unit contacts
// see their units' requests only. Texts: between_texts.js.
import { h, clear } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { act, field, flashError, fmtDateTime, percent, table } from "./ui.js";
import "./between_texts.js";

/** @param {HTMLElement} root @param {string} actor who signs in (admin, operator, moderator) */
export async function leaveView(root, actor = "operator") {
  const state = h("select", { id: "lv-state" }, ["requested", "approved", "refused", "all"].map((s) => h("option", { value: s }, t(`lv.state.${s}`))));
  const out = h("div", { id: "leave-requests" });
  const load = async () => {
    try {
      const list = await api.get("/leave", { state: /** @type {HTMLSelectElement} */ (state).value });
      clear(out).appendChild(
        table(
          [
            { label: t("lv.trainee"), cell: (r) => `${r.trainee.name}（${r.trainee.staff_no}）` },
            { label: t("lv.unit"), cell: (r) => r.org_unit.name },
            { label: t("lv.program"), cell: (r) => r.program },
            { label: t("lv.sessions"), cell: (r) => r.sessions.map((s) => `${s.title} ${fmtDateTime(s.starts_at)}`).join("；") },
            { label: t("lv.reason"), cell: (r) => r.reason },
            { label: t("lv.before"), cell: (r) => shareCell(r.standing, false), class: "num" },
            { label: t("lv.after"), cell: (r) => shareCell(r.standing, true), class: "num" },
            { label: t("lv.state"), cell: (r) => h("span", { class: `tag leave-${r.state}` }, t(`lv.state.${r.state}`)) },
            { label: "", cell: (r) => decideCell(r, load) },
          ],
          list.items,
          { caption: t("lv.caption", { n: list.items.length }), id: "leave-table" },
        ),
      );
    } catch (err) {
      flashError(err);
    }
  };
  state.addEventListener("change", load);
  root.appendChild(h("section", { class: "panel" }, h("h2", {}, t("lv.heading")), h("p", { class: "note" }, t("lv.intro")), field(t("lv.state"), state), out));
  if (actor === "admin" || actor === "operator") root.appendChild(await contactsPanel(actor === "admin"));
  await load();
  return null;
}

/** Who decides a unit's leave besides the office: its contacts (联络员). Operators see them;
 * admins, who may list the users, also name them. @param {boolean} admin */
async function contactsPanel(admin) {
  const units = (await api.get("/org-units", { limit: 500 })).items || [];
  const users = admin ? (await api.get("/users", { limit: 500 })).items || [] : [];
  const unit = h("select", { id: "lv-contact-unit" }, units.map((u) => h("option", { value: String(u.id) }, u.name)));
  const who = h("select", { id: "lv-contact-users", multiple: true, size: "4" }, users.map((u) => h("option", { value: String(u.id) }, `${u.display_name || u.username}（${u.username}）`)));
  const current = h("p", { id: "lv-contacts" });
  const unitId = () => /** @type {HTMLSelectElement} */ (unit).value;
  const show = async () => {
    if (!unitId()) return;
    const found = await api.get(`/org-units/${unitId()}/contacts`);
    current.textContent = t("lv.contactsNow", { names: found.items.map((/** @type {any} */ u) => u.display_name || u.username).join("、") || "—" });
    const chosen = new Set(found.items.map((/** @type {any} */ u) => String(u.id)));
    for (const option of /** @type {HTMLSelectElement} */ (who).options) option.selected = chosen.has(option.value);
  };
  unit.addEventListener("change", () => show().catch(flashError));
  const save = h("button", { type: "button", id: "lv-contacts-save" }, t("lv.contactsSave"));
  save.addEventListener("click", async () => {
    const ids = Array.from(/** @type {HTMLSelectElement} */ (who).selectedOptions, (o) => Number(o.value));
    if (await act(/** @type {HTMLButtonElement} */ (save), () => api.put(`/org-units/${unitId()}/contacts`, { user_ids: ids }), t("lv.contactsSaved"))) await show();
  });
  await show().catch(flashError);
  return h(
    "section",
    { class: "panel", id: "lv-contacts-panel" },
    h("h2", {}, t("lv.contacts")),
    h("p", { class: "note" }, t("lv.contactsIntro")),
    field(t("lv.unit"), unit),
    current,
    admin ? [field(t("lv.contactsUsers"), who), save] : null,
  );
}

/** @param {any} standing @param {boolean} after */
function shareCell(standing, after) {
  if (!standing) return "—";
  const share = after ? standing.share_after : standing.share_before;
  const over = after ? standing.over_after : standing.over_before;
  const flag = over ? h("span", { class: "tag bad leave-flag" }, after && !standing.over_before ? t("lv.wouldPass") : t("lv.over")) : null;
  return h("span", {}, percent(share), " ", flag);
}

/** @param {any} r @param {() => Promise<void>} reload */
function decideCell(r, reload) {
  if (r.state !== "requested") return r.note || "";
  if (!r.may_decide) return t("lv.notYours");
  const note = h("input", { type: "text", maxlength: "500", "aria-label": t("lv.note"), placeholder: t("lv.note"), class: "short" });
  /** @param {string} decision @param {string} ok */
  const decide = (decision, ok) => async (/** @type {Event} */ ev) => {
    const done = await act(/** @type {HTMLButtonElement} */ (ev.currentTarget), () => api.post(`/leave/${r.id}/decide`, { decision, note: /** @type {HTMLInputElement} */ (note).value }), t(ok));
    if (done) await reload();
  };
  return h("div", { class: "row" }, note, h("button", { type: "button", class: "primary", onclick: decide("approve", "lv.approved") }, t("lv.approve")), h("button", { type: "button", onclick: decide("refuse", "lv.refused") }, t("lv.refuse")));
}
