// @ts-check
// Roster import and export on the trainees page of master data: a CSV or XLSX file is imported
// all or nothing, every bad row shown with its column, value and problem (server/web/roster);
// renamed trainees and warnings are listed after a good import.
import { h, clear } from "/static/shared/dom.js";
import { t, getLang } from "/static/shared/i18n.js";
import { api, ApiError, downloadUrl, errorText } from "/static/shared/api.js";
import { field, flash } from "./ui.js";

/**
 * The trainees page's roster panel: import a file (CSV or XLSX), export the roster.
 * @param {() => unknown} [imported] called after a good import (the page reloads its list)
 */
export function rosterPanel(imported) {
  const file = h("input", { type: "file", id: "roster-file", accept: ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" });
  const out = h("div", { id: "roster-result", role: "status", "aria-live": "polite" });
  const update = h("input", { type: "checkbox", id: "roster-update-existing" });
  const zh = getLang() === "zh";
  return h(
    "section",
    { class: "panel", "aria-labelledby": "roster-h" },
    h("h2", { id: "roster-h" }, t("roster.title")),
    h(
      "form",
      {
        class: "toolbar",
        onsubmit: async (ev) => {
          ev.preventDefault();
          clear(out);
          const files = file.files;
          if (!files || !files.length) {
            out.appendChild(h("p", { class: "error" }, t("roster.pick")));
            return;
          }
          const form = new FormData();
          form.append("file", files[0]);
          const btn = ev.submitter;
          btn.disabled = true;
          try {
            const r = await api.upload(`/trainees/import?update_existing=${update.checked}`, form);
            out.appendChild(h("p", { class: "ok-note" }, t("roster.done", { created: r.created, updated: r.updated })));
            if (r.renamed && r.renamed.length)
              out.appendChild(h("ul", { id: "roster-renamed" }, r.renamed.map((x) => h("li", {}, t("roster.renamedOne", { row: x.row, staff: x.staff_no, from: x.old_name, to: x.new_name })))));
            if (r.warnings && r.warnings.length) out.appendChild(issueTable(r.warnings, t("roster.warnings"), "warnings"));
            flash(t("roster.done", { created: r.created, updated: r.updated }), "ok");
            if (imported) await imported();
          } catch (err) {
            const rows = err instanceof ApiError && err.details ? err.details.errors : null;
            out.appendChild(h("p", { class: "error", role: "alert" }, rows ? t("roster.failed", { n: rows.length }) : errorText(err)));
            if (rows) out.appendChild(issueTable(rows, t("roster.errors"), "errors"));
          } finally {
            btn.disabled = false;
          }
        },
      },
      field(t("roster.file"), file, t("roster.hint")),
      h("label", { class: "check", for: "roster-update-existing" }, update, " ", t("roster.updateExisting")),
      h("button", { type: "submit", class: "primary", id: "roster-import" }, t("roster.import")),
    ),
    h(
      "p",
      { class: "downloads" },
      h("a", { class: "btn secondary", href: downloadUrl("/trainees/export", { format: "xlsx", lang: zh ? "zh" : "en" }), download: "" }, t("roster.exportXlsx")),
      h("a", { class: "btn secondary", href: downloadUrl("/trainees/export", { format: "csv", lang: zh ? "zh" : "en" }), download: "" }, t("roster.exportCsv")),
    ),
    out,
  );
}

/**
 * The rows of a file with a problem: "errors" stopped the import (red), "warnings" did not.
 * @param {any[]} issues
 * @param {string} caption
 * @param {"errors" | "warnings"} kind
 */
function issueTable(issues, caption, kind) {
  const zh = getLang() === "zh";
  return h(
    "table",
    { class: "grid compact row-errors-table", id: `roster-${kind}` },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, [t("roster.row"), t("roster.column"), t("roster.value"), t("roster.problem")].map((x) => h("th", { scope: "col" }, x)))),
    h(
      "tbody",
      {},
      issues.map((e) =>
        h(
          "tr",
          { class: kind === "errors" ? "violation" : "notice" },
          h("td", { class: "num" }, e.row == null ? "—" : String(e.row)),
          h("td", {}, e.column || "—"),
          h("td", {}, e.value ?? "—"),
          h("td", {}, zh ? e.message_zh || e.message : e.message),
        ),
      ),
    ),
  );
}
