// @ts-check
// Master data: one generic list / create / edit / delete screen per resource, its form built
// from the server's own OpenAPI request schema (so a new field shows up without UI work);
// org units and sites as trees; the trainees' roster import and export (roster_panel.js).
import { h, clear } from "/static/shared/dom.js";
import { t, addMessages } from "/static/shared/i18n.js";
import { api, errorText } from "/static/shared/api.js";
import { act, askInline, button, field, flashError, fmtDateTime } from "./ui.js";
import { inputValue, isoFromInput } from "/static/shared/time.js";
import { rosterPanel } from "./roster_panel.js";

addMessages({
  zh: { "gender.male": "男", "gender.female": "女" },
  en: { "gender.male": "male", "gender.female": "female" },
});

export const RESOURCES = ["sessions", "courses", "units", "programs", "sites", "org-units", "trainees", "users"];
const TREES = new Set(["sites", "org-units"]);
const REFS = {
  parent_id: null, // same resource
  org_unit_id: "org-units",
  home_site_id: "sites",
  course_id: "courses",
  unit_id: "units",
  program_id: "programs",
};
/** What a new record's form starts from (the store's own defaults). */
const NEW_DEFAULTS = /** @type {Record<string, any>} */ ({ active: true, kind: "sub", teaching_method: "lecture" });
const HIDDEN_COLUMNS = new Set(["created_at", "secret_issued_at", "description", "password"]);
let openapi = null;

async function schemaFor(resource) {
  if (!openapi) {
    const response = await fetch("/api/v1/openapi.json", { credentials: "same-origin" });
    openapi = await response.json();
  }
  const op = openapi.paths[`/api/v1/${resource}`]?.post;
  return op?.requestBody?.content?.["application/json"]?.schema || { properties: {}, required: [] };
}

function labelOf(item) {
  return item.name || item.title || item.username || `#${item.id}`;
}

function genderText(v) {
  const key = `gender.${v}`;
  return t(key) === key ? String(v) : t(key);
}

export async function listAll(resource) {
  const out = [];
  for (let offset = 0; offset < 20000; offset += 500) {
    const page = await api.get(`/${resource}`, { limit: 500, offset });
    out.push(...page.items);
    if (out.length >= page.total || !page.items.length) break;
  }
  return out;
}

/** Order a tree (items with parent_id) depth-first; returns [{item, depth}]. */
export function treeOrder(items) {
  const kids = new Map();
  const ids = new Set(items.map((i) => i.id));
  for (const i of items) {
    const p = i.parent_id && ids.has(i.parent_id) ? i.parent_id : 0;
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(i);
  }
  const out = [];
  const walk = (p, depth) => {
    for (const i of kids.get(p) || []) {
      out.push({ item: i, depth });
      if (depth < 20) walk(i.id, depth + 1);
    }
  };
  walk(0, 0);
  return out;
}

export async function manageView(root, resource, actor) {
  const allowed = RESOURCES.filter((r) => r !== "users" || actor === "admin");
  if (!allowed.includes(resource)) resource = "sessions";
  const refData = new Map(); // resource -> items
  const subnav = h(
    "nav",
    { class: "subnav", "aria-label": t("manage.resources") },
    allowed.map((r) => h("a", { class: "btn secondary small", href: `#/manage/${r}`, "aria-current": r === resource ? "page" : null }, t("res." + r))),
  );
  const listBox = h("div", { id: "manage-list" });
  const formBox = h("div", { id: "manage-form" });
  const search = h("input", { type: "search", id: "manage-search", maxlength: "100" });
  // Usable once the form schema has arrived.
  const newButton = h("button", { type: "button", class: "primary", id: "manage-new", disabled: true, onclick: () => showForm(null) }, t("manage.new"));
  root.appendChild(
    h(
      "section",
      { class: "panel" },
      h("h1", {}, t("manage.heading"), " · ", t("res." + resource)),
      subnav,
      resource === "trainees" ? rosterPanel(() => (schema ? load() : null)) : null, // the list shows the import
      h(
        "div",
        { class: "toolbar" },
        resource !== "units" ? field(t("manage.search"), search) : null,
        newButton,
      ),
      formBox,
      listBox,
    ),
  );

  let schema;
  try {
    schema = await schemaFor(resource);
  } catch (err) {
    flashError(err);
    return null;
  }
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  newButton.disabled = false;

  async function refItems(name) {
    const target = REFS[name] === null ? resource : REFS[name];
    if (!target) return null;
    if (!refData.has(target)) {
      try {
        refData.set(target, await listAll(target));
      } catch (_err) {
        refData.set(target, []);
      }
    }
    return refData.get(target);
  }

  function refName(key, id) {
    if (id == null) return "—";
    const target = REFS[key] === null ? resource : REFS[key];
    const item = (refData.get(target) || []).find((x) => x.id === id);
    return item ? labelOf(item) : `#${id}`;
  }

  /**
   * One form control. A new record (``creating``) starts from what most records are:
   * ``active`` ticked (the checkbox is always sent), a room a sub-classroom, a session a
   * lecture; an enum with no such default (a user's role) makes the person choose.
   * @param {string} name @param {any} spec @param {any} value @param {boolean} creating
   */
  async function control(name, spec, value, creating) {
    const id = `mf-${name}`;
    if (creating && value === undefined) value = NEW_DEFAULTS[name];
    if (name in REFS) {
      const items = await refItems(name);
      return h(
        "select",
        { id, name },
        required.has(name) ? null : h("option", { value: "" }, "—"),
        treeOrderIf(name, items).map(({ item, depth }) => h("option", { value: String(item.id), selected: value === item.id }, `${"  ".repeat(depth)}${labelOf(item)}`)),
      );
    }
    if (name === "site_ids") {
      const sites = await refItems("home_site_id");
      const chosen = new Set(value || []);
      return h(
        "select",
        { id, name, multiple: true, size: "8" },
        treeOrder(sites).map(({ item, depth }) => h("option", { value: String(item.id), selected: chosen.has(item.id) }, `${"  ".repeat(depth)}${item.name}`)),
      );
    }
    if (name === "gender") {
      const known = ["male", "female"];
      return h(
        "select",
        { id, name },
        h("option", { value: "" }, "—"),
        [...known, ...(value && !known.includes(value) ? [value] : [])].map((v) => h("option", { value: v, selected: value === v }, genderText(v))),
      );
    }
    if (spec.enum)
      return h(
        "select",
        { id, name, required: required.has(name) },
        value === undefined ? h("option", { value: "", selected: true }, t("manage.choose")) : null,
        spec.enum.map((v) => h("option", { value: v, selected: value === v }, t(`enum.${v}`) === `enum.${v}` ? v : t(`enum.${v}`))),
      );
    if (spec.type === "boolean") return h("input", { type: "checkbox", id, name, checked: Boolean(value) });
    if (spec.format === "date-time") {
      // Times are entered and shown in the deployment's zone (time_zone), wherever the browser is.
      return h("input", { type: "datetime-local", id, name, value: inputValue(value), required: required.has(name) });
    }
    if (spec.type === "integer" || spec.type === "number")
      return h("input", { type: "number", id, name, value: value ?? "", min: spec.minimum, max: spec.maximum, step: spec.type === "number" ? "any" : "1", required: required.has(name) });
    if (name === "description") {
      const area = h("textarea", { id, name, rows: "3", maxlength: spec.maxLength });
      area.value = value ?? "";
      return area;
    }
    if (name === "password")
      // editing: empty keeps the password (the server never sends it back)
      return h("input", { type: "password", id, name, value: "", maxlength: spec.maxLength, autocomplete: "new-password", required: required.has(name) && creating, placeholder: creating ? "" : t("manage.passwordKeep") });
    return h("input", { type: "text", id, name, value: value ?? "", maxlength: spec.maxLength, required: required.has(name) });
  }

  function treeOrderIf(name, items) {
    return REFS[name] === null || REFS[name] === "sites" || REFS[name] === "org-units" ? treeOrder(items) : items.map((item) => ({ item, depth: 0 }));
  }

  function read(name, spec, node) {
    if (name === "site_ids") return [...node.selectedOptions].map((o) => Number(o.value));
    if (spec.type === "boolean") return node.checked;
    if (node.value === "") return undefined;
    if (name in REFS || spec.type === "integer") return Number.parseInt(node.value, 10);
    if (spec.type === "number") return Number(node.value);
    if (spec.format === "date-time") return isoFromInput(node.value);
    return node.value;
  }

  async function showForm(item) {
    clear(formBox);
    const controls = {};
    const fields = [];
    for (const [name, spec] of Object.entries(props)) {
      const value = item ? item[name] : undefined;
      controls[name] = await control(name, spec, value, !item);
      const label = t(`col.${name}`) === `col.${name}` ? name : t(`col.${name}`);
      fields.push(field(label, controls[name], spec.format === "date-time" ? t("manage.beijingTime") : name === "site_ids" ? pickAll(controls[name]) : undefined));
    }
    const errors = h("ul", { class: "row-errors", role: "alert" });
    const form = h(
      "form",
      {
        class: "panel",
        id: "resource-form",
        onsubmit: async (ev) => {
          ev.preventDefault();
          clear(errors);
          const data = {};
          for (const [name, spec] of Object.entries(props)) {
            const v = read(name, spec, controls[name]);
            if (v === undefined) {
              if (item && item[name] != null && name in REFS && !required.has(name)) data[name] = null;
              continue;
            }
            if (item && JSON.stringify(item[name]) === JSON.stringify(v)) continue;
            data[name] = v;
          }
          await act(ev.submitter, async () => {
            try {
              if (item) await api.patch(`/${resource}/${item.id}`, data);
              else await api.post(`/${resource}`, data);
            } catch (err) {
              errors.appendChild(h("li", {}, errorText(err)));
              throw err;
            }
            clear(formBox);
            refData.delete(resource);
            await load();
          }, item ? t("manage.saved") : t("manage.created"));
        },
      },
      h("h2", {}, item ? t("manage.editTitle", { name: labelOf(item) }) : t("manage.newTitle", { what: t("res." + resource) })),
      fields,
      errors,
      h("div", { class: "row-actions" }, h("button", { type: "submit", class: "primary", id: "resource-save" }, t("ui.save")), h("button", { type: "button", onclick: () => clear(formBox) }, t("ui.cancel"))),
    );
    formBox.appendChild(form);
    const first = /** @type {HTMLElement | null} */ (form.querySelector("input, select, textarea"));
    if (first) first.focus();
  }

  /**
   * The hint under a multiple choice, with 全选 / 全不选 (a session of every room is common).
   * @param {HTMLSelectElement} select
   */
  function pickAll(select) {
    const all = (/** @type {boolean} */ on) => () => {
      for (const option of select.options) option.selected = on;
    };
    return h(
      "span",
      {},
      t("manage.multiHint"),
      " ",
      button(t("manage.selectAll"), all(true), { class: "small secondary", id: `${select.id}-all` }),
      " ",
      button(t("manage.selectNone"), all(false), { class: "small secondary", id: `${select.id}-none` }),
    );
  }

  async function extraActions(item) {
    const out = [];
    if (resource === "sessions") out.push(h("a", { class: "btn small", href: `#/sessions/${item.id}/live` }, t("sessions.dashboard")));
    if (resource === "sites")
      out.push(issueButton(t("manage.issueSecret"), `/sites/${item.id}/secret`, "secret", t("manage.secretFor", { name: item.name }), item.has_secret ? t("manage.secretReplace", { name: item.name }) : ""));
    if (resource === "trainees") out.push(h("a", { class: "btn small secondary", href: `#/trainees/${item.id}/transcript` }, t("nav.transcripts")));
    if (resource === "trainees") out.push(issueButton(t("manage.issueCode"), `/trainees/${item.id}/join-code`, "code", t("manage.codeFor", { name: item.name }), ""));
    return out;
  }

  /**
   * A button that issues a new credential (after ``ask``, when there is one to confirm) and
   * shows it once: the server keeps only its hash.
   * @param {string} label
   * @param {string} path
   * @param {string} key the answer's field holding the credential
   * @param {string} title
   * @param {string} ask
   */
  function issueButton(label, path, key, title, ask) {
    const issue = (btn) =>
      act(btn, async () => {
        const r = await api.post(path);
        showOnce(title, r[key]);
      });
    return h("button", {
      type: "button",
      class: "small secondary",
      onclick: (ev) => (ask ? askInline(formBox, ask, t("manage.secretReplaceYes"), issue, { id: "manage-ask", danger: true }) : issue(ev.currentTarget)),
    }, label);
  }

  function showOnce(title, secret) {
    clear(formBox).appendChild(
      h("div", { class: "panel", role: "alert" }, h("h2", {}, title), h("p", {}, h("code", { class: "secret" }, secret)), h("p", { class: "note" }, t("manage.shownOnce")), h("button", { type: "button", onclick: () => clear(formBox) }, t("ui.dismiss"))),
    );
  }

  async function load() {
    let items;
    try {
      const q = search.value.trim();
      items = q ? (await api.get(`/${resource}`, { limit: 500, q })).items : await listAll(resource);
      for (const key of Object.keys(props)) if (key in REFS) await refItems(key);
      if (q !== search.value.trim()) return; // typed on meanwhile: a later load draws
    } catch (err) {
      clear(listBox).appendChild(h("p", { class: "error", role: "alert" }, errorText(err)));
      return;
    }
    if (!refData.has(resource) && !search.value.trim()) refData.set(resource, items);
    const keys = ["id", ...Object.keys(items[0] || props).filter((k) => k !== "id" && !HIDDEN_COLUMNS.has(k) && !k.endsWith("_hash"))];
    const rows = TREES.has(resource) && !search.value.trim() ? treeOrder(items) : items.map((item) => ({ item, depth: 0 }));
    const cell = (k, v) => {
      if (v === null || v === undefined) return "—";
      if (k in REFS) return refName(k, v);
      if (k === "status") return t(`status.${v}`);
      if (k === "gender") return genderText(v);
      if (props[k] && props[k].enum) return t(`enum.${v}`) === `enum.${v}` ? String(v) : t(`enum.${v}`);
      if (k === "site_ids") return String(v.length);
      if (typeof v === "boolean") return v ? t("ui.yes") : t("ui.no");
      if (k.endsWith("_at")) return fmtDateTime(v);
      if (Array.isArray(v)) return v.join(", ");
      return String(v);
    };
    const trs = [];
    for (const { item, depth } of rows) {
      trs.push(
        h(
          "tr",
          { "data-id": String(item.id) },
          keys.map((k, i) => h(i === 1 ? "th" : "td", { scope: i === 1 ? "row" : null, class: i === 1 && depth ? `tree-indent-${Math.min(depth, 3)}` : k === "id" ? "id" : null }, cell(k, item[k]))),
          h(
            "td",
            {},
            h(
              "span",
              { class: "row-actions" },
              h("button", { type: "button", class: "small", onclick: () => showForm(item), "aria-label": `${t("ui.edit")} ${labelOf(item)}` }, t("ui.edit")),
              h("button", {
                type: "button",
                class: "small danger",
                "aria-label": `${t("ui.delete")} ${labelOf(item)}`,
                onclick: () =>
                  askInline(formBox, t("manage.confirmDelete", { name: labelOf(item) }), t("ui.delete"), (yes) =>
                    act(yes, async () => {
                      await api.del(`/${resource}/${item.id}`);
                      refData.delete(resource);
                      await load();
                    }, t("manage.deleted")),
                  { id: "manage-ask", danger: true }),
              }, t("ui.delete")),
              ...(await extraActions(item)),
            ),
          ),
        ),
      );
    }
    clear(listBox).appendChild(
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "grid compact", id: "resource-table" },
          h("caption", {}, t("manage.count", { n: items.length })),
          h("thead", {}, h("tr", {}, keys.map((k) => h("th", { scope: "col" }, t(`col.${k}`) === `col.${k}` ? k : t(`col.${k}`))), h("th", { scope: "col" }, t("sessions.open")))),
          h("tbody", {}, trs.length ? trs : h("tr", {}, h("td", { colspan: String(keys.length + 1), class: "empty" }, t("ui.empty")))),
        ),
      ),
    );
  }
  // filters as one types (a pause of 300 ms), and on Enter
  let typing = 0;
  search.addEventListener("input", () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(load, 300);
  });
  search.addEventListener("change", load);
  await load();
  return null;
}
