// @ts-check
// Between the live days, the training office's side (issue 17.3–17.5): #/completion, a
// program's completion rules, who completed and what others miss, certificates, write-up
// marking (学用成果), set reading, the to-do export. Texts: between_texts.js.
import { h, clear } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api, downloadUrl } from "/static/shared/api.js";
import { act, field, flash, flashError, percent, table } from "./ui.js";
import "./between_texts.js";

/** @param {HTMLElement} root @param {number|null} programId */
export async function completionView(root, programId) {
  const programs = await api.get("/programs", { limit: 200 });
  const items = programs.items || [];
  const chosen = programId || (items.length ? items[items.length - 1].id : null);
  const picker = h(
    "select",
    { id: "cp-program", onchange: (/** @type {Event} */ ev) => (window.location.hash = `#/completion/${/** @type {HTMLSelectElement} */ (ev.target).value}`) },
    items.map((p) => h("option", { value: String(p.id), selected: p.id === chosen }, p.name)),
  );
  root.appendChild(h("section", { class: "panel" }, h("h2", {}, t("cp.heading")), field(t("cp.program"), picker)));
  if (!chosen) return null;
  const out = h("div", { id: "completion" });
  root.appendChild(out);
  const load = async () => {
    try {
      const [done, writeups, readings] = await Promise.all([
        api.get(`/programs/${chosen}/completion`),
        api.get(`/programs/${chosen}/writeups`),
        api.get(`/programs/${chosen}/readings`),
      ]);
      clear(out).append(rulesPanel(chosen, done, load), listPanel(chosen, done, load), writeupPanel(writeups.items, load), readingPanel(chosen, readings.items, load));
    } catch (err) {
      flashError(err);
    }
  };
  await load();
  return null;
}

/** @param {number} programId @param {any} done @param {() => Promise<void>} reload */
function rulesPanel(programId, done, reload) {
  const rules = done.rules;
  const [num, den] = String(rules.leave_limit).split("/");
  const minHours = h("input", { type: "number", min: "0", step: "0.5", value: rules.min_hours ?? "", class: "short", id: "cp-min-hours" });
  const selfStudy = h("input", { type: "checkbox", checked: rules.count_self_study, id: "cp-self-study" });
  const share = h("input", { type: "number", min: "0.01", max: "1", step: "0.01", value: rules.min_attendance_share ?? "", class: "short", id: "cp-share" });
  const quiz = h("input", { type: "number", min: "1", max: "100", value: rules.quiz_pass_mark ?? "", class: "short", id: "cp-quiz" });
  const writeup = h("input", { type: "checkbox", checked: rules.writeup_required, id: "cp-writeup" });
  const limitNum = h("input", { type: "number", min: "1", max: "100", value: num, class: "short", id: "cp-limit-num", "aria-label": t("cp.leaveLimit") });
  const limitDen = h("input", { type: "number", min: "1", max: "100", value: den, class: "short", id: "cp-limit-den", "aria-label": t("cp.leaveLimit") });
  /** @param {HTMLElement} el */
  const num0 = (el) => (/** @type {HTMLInputElement} */ (el).value === "" ? null : Number(/** @type {HTMLInputElement} */ (el).value));
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: async (/** @type {Event} */ ev) => {
        ev.preventDefault();
        const body = {
          min_hours: num0(minHours),
          count_self_study: /** @type {HTMLInputElement} */ (selfStudy).checked,
          min_attendance_share: num0(share),
          quiz_pass_mark: num0(quiz),
          writeup_required: /** @type {HTMLInputElement} */ (writeup).checked,
          leave_limit_num: Number(/** @type {HTMLInputElement} */ (limitNum).value),
          leave_limit_den: Number(/** @type {HTMLInputElement} */ (limitDen).value),
        };
        if (await act(null, () => api.put(`/programs/${programId}/completion-rules`, body), t("cp.saved"))) await reload();
      },
    },
    field(t("cp.minHours"), minHours),
    field(t("cp.share"), share),
    field(t("cp.quiz"), quiz),
    h("div", { class: "field" }, h("label", { class: "inline" }, selfStudy, " ", t("cp.countSelfStudy")), h("label", { class: "inline" }, writeup, " ", t("cp.writeup"))),
    h("div", { class: "field" }, h("span", {}, t("cp.leaveLimit")), h("span", { class: "row" }, limitNum, "/", limitDen)),
    h("button", { type: "submit" }, t("cp.save")),
  );
  form.addEventListener("invalid", (ev) => refused(/** @type {HTMLInputElement} */ (ev.target)), true);
  const unset = done.requirements_set ? null : h("p", { class: "notice-warn", id: "cp-unset", role: "status" }, t("cp.unset"));
  return h("section", { class: "panel", id: "cp-rules" }, h("h2", {}, t("cp.rules")), unset, form);
}

/** The browser refused a value (out of range, wrong step): say so, instead of saving nothing
 * without a word. @param {HTMLInputElement} input */
function refused(input) {
  const label = input.labels && input.labels.length ? input.labels[0].textContent : input.getAttribute("aria-label");
  const range = input.validity.rangeUnderflow || input.validity.rangeOverflow || input.validity.stepMismatch;
  const name = label || input.id;
  if (range && input.min && input.max) {
    flash(t("cp.invalidRange", { field: name, min: input.min, max: input.max, step: input.step || "1", value: input.value }), "error");
  } else {
    flash(t("cp.invalid", { field: name, message: input.validationMessage }), "error");
  }
}

/** @param {any} m */
function missingText(m) {
  const fmt = (/** @type {number} */ x) => String(Math.round(x * 100) / 100);
  return t(`cp.missing.${m.what}`, { has: fmt(m.has), needed: fmt(m.needed) });
}

/** @param {number} programId @param {any} done @param {() => Promise<void>} reload */
function listPanel(programId, done, reload) {
  const issue = h("button", { type: "button", class: "primary", id: "cp-issue", disabled: !done.requirements_set, title: done.requirements_set ? null : t("cp.unset") }, t("cp.issue"));
  issue.addEventListener("click", async () => {
    const result = await act(/** @type {HTMLButtonElement} */ (issue), () => api.post(`/programs/${programId}/certificates`));
    if (result) {
      await reload();
      flash(t("cp.issued", { n: result.issued }), "ok");
    }
  });
  // Several certificates revoked at once: tick them, one reason, one confirmation.
  /** @type {HTMLInputElement[]} */
  const picks = [];
  const bulk = h("button", { type: "button", id: "cp-revoke-many", disabled: true }, t("cp.revokeMany", { n: 0 }));
  const bulkBox = h("div", { id: "cp-revoke-many-box" });
  const picked = () => picks.filter((c) => c.checked).map((c) => Number(c.value));
  // the column's heading ticks (or clears) every valid certificate at once
  const all = /** @type {HTMLInputElement} */ (
    h("input", { type: "checkbox", id: "cp-pick-all", "aria-label": t("cp.pickAll"), title: t("cp.pickAll"), onchange: () => {
      for (const box of picks) box.checked = all.checked;
      sync();
    } })
  );
  const sync = () => {
    const n = picked().length;
    bulk.textContent = t("cp.revokeMany", { n });
    /** @type {HTMLButtonElement} */ (bulk).disabled = n === 0;
    all.checked = n > 0 && n === picks.length;
    all.indeterminate = n > 0 && n < picks.length;
    clear(bulkBox); // an open question was about the certificates ticked then: ask again
  };
  const pick = (/** @type {any} */ r) => {
    if (!r.certificate || r.certificate.revoked_at) return "";
    const box = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", class: "cp-pick", value: String(r.certificate.id), "aria-label": t("cp.pick", { name: r.name }), onchange: sync }));
    picks.push(box);
    return box;
  };
  bulk.addEventListener("click", () => {
    const ids = picked();
    const reason = h("input", { type: "text", id: "cp-revoke-many-reason", maxlength: "500", required: true });
    const confirm = h("button", { type: "submit", class: "danger", id: "cp-revoke-many-confirm" }, t("cp.revokeManyConfirm", { n: ids.length }));
    clear(bulkBox).append(
      h(
        "form",
        {
          class: "inline-form",
          role: "alertdialog",
          "aria-labelledby": "cp-revoke-many-note",
          onsubmit: async (/** @type {Event} */ ev) => {
            ev.preventDefault();
            const body = { ids, reason: /** @type {HTMLInputElement} */ (reason).value };
            const answer = await act(confirm, () => api.post("/certificates/revoke", body));
            if (answer) {
              await reload();
              flash(t("cp.revokedMany", { n: answer.revoked.length }), "ok");
            }
          },
        },
        h("p", { id: "cp-revoke-many-note" }, t("cp.revokeManyNote")),
        h("div", { class: "toolbar" }, field(t("cp.revokeReason"), reason), confirm, h("button", { type: "button", onclick: () => clear(bulkBox) }, t("cp.cancel"))),
      ),
    );
    /** @type {HTMLInputElement} */ (reason).focus();
  });
  const grid = table(
    [
      { label: all, cell: pick },
      { label: t("lv.trainee"), cell: (r) => `${r.name}（${r.staff_no}）` },
      { label: t("lv.unit"), cell: (r) => r.org_unit },
      { label: t("cp.hours"), cell: (r) => String(r.hours), class: "num" },
      { label: t("cp.attendance"), cell: (r) => percent(r.attendance_share), class: "num" },
      { label: t("cp.quizScore"), cell: (r) => (r.quiz_percent === null ? "—" : `${r.quiz_percent}%`), class: "num" },
      { label: "", cell: (r) => h("span", { class: r.completed ? "tag ok" : "tag" }, r.completed ? t("cp.completed") : t("cp.notCompleted")) },
      { label: t("cp.missing"), cell: (r) => r.missing.map(missingText).join("；") },
      { label: t("cp.certificate"), cell: (r) => (r.certificate ? certificateCell(r.certificate, reload) : "") },
    ],
    done.items,
    { id: "completion-table" },
  );
  all.hidden = picks.length === 0; // nothing valid to revoke
  return h(
    "section",
    { class: "panel", id: "cp-list" },
    h("h2", {}, done.program.name, " · ", t("cp.summary", { done: done.completed, total: done.total })),
    h("p", { class: "downloads" }, issue, h("a", { class: "btn secondary", id: "cp-export", href: downloadUrl(`/programs/${programId}/outstanding`, { format: "xlsx" }), download: "" }, t("cp.export")), bulk),
    bulkBox,
    h("div", { class: "table-scroll" }, grid),
  );
}

/** A certificate: its download and 撤销 (a reason asked inline), or that it was revoked and why.
 * @param {any} cert @param {() => Promise<void>} reload */
function certificateCell(cert, reload) {
  if (cert.revoked_at) {
    return h("span", { class: "cp-revoked" }, h("span", { class: "tag" }, t("cp.revoked")), " ", cert.code, cert.revoke_reason ? `（${cert.revoke_reason}）` : "");
  }
  const cell = h("span", { class: "row" });
  const reason = h("input", { type: "text", maxlength: "500", required: true, placeholder: t("cp.revokeReason"), "aria-label": t("cp.revokeReason") });
  const confirm = h("button", { type: "submit", class: "danger" }, t("cp.revokeConfirm"));
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: async (/** @type {Event} */ ev) => {
        ev.preventDefault();
        const body = { reason: /** @type {HTMLInputElement} */ (reason).value };
        if (await act(confirm, () => api.post(`/certificates/${cert.id}/revoke`, body), t("cp.revokedOk"))) await reload();
      },
    },
    reason,
    confirm,
    h("button", { type: "button", onclick: () => clear(cell).append(...shown()) }, t("cp.cancel")),
  );
  const shown = () => [
    h("a", { href: downloadUrl(`/certificates/${cert.id}/pdf`), download: "" }, `${t("cp.pdf")} ${cert.code}`),
    h("button", { type: "button", class: "link", onclick: () => { clear(cell).append(form); /** @type {HTMLInputElement} */ (reason).focus(); } }, t("cp.revoke")),
  ];
  cell.append(...shown());
  return cell;
}

/** @param {any[]} items @param {() => Promise<void>} reload */
function writeupPanel(items, reload) {
  const rows = items.map((w) => {
    const comment = h("input", { type: "text", maxlength: "1000", "aria-label": t("cp.comment"), placeholder: t("cp.comment") });
    /** @param {string} how */
    const mark = (how) => async (/** @type {Event} */ ev) => {
      const ok = await act(/** @type {HTMLButtonElement} */ (ev.currentTarget), () => api.post(`/writeups/${w.id}/mark`, { mark: how, comment: /** @type {HTMLInputElement} */ (comment).value }), t("cp.marked"));
      if (ok) await reload();
    };
    return h(
      "li",
      { "data-state": w.state },
      h("div", { class: "row" }, h("strong", {}, `${w.trainee.name}（${w.org_unit}）`), h("span", { class: "tag" }, t(`wu.state.${w.state}`)), w.file_name ? h("a", { href: downloadUrl(`/writeups/${w.id}/file`), download: "" }, `${t("cp.attachment")}：${w.file_name}`) : null),
      h("p", { class: "writeup-text" }, w.text),
      w.comment ? h("p", { class: "note" }, `${t("cp.comment")}：${w.comment}`) : null,
      w.state === "submitted" ? h("div", { class: "row" }, comment, h("button", { type: "button", class: "primary", onclick: mark("accept") }, t("cp.accept")), h("button", { type: "button", onclick: mark("revise") }, t("cp.revise"))) : null,
    );
  });
  return h("section", { class: "panel", id: "cp-writeups" }, h("h2", {}, t("cp.writeups")), rows.length ? h("ul", { class: "list" }, rows) : h("p", { class: "note" }, t("cp.writeupsNone")));
}

/** @param {number} programId @param {any[]} items @param {() => Promise<void>} reload */
function readingPanel(programId, items, reload) {
  const title = h("input", { type: "text", maxlength: "200", required: true });
  const author = h("input", { type: "text", maxlength: "100" });
  const link = h("input", { type: "url", maxlength: "500" });
  const value = (/** @type {HTMLElement} */ el) => /** @type {HTMLInputElement} */ (el).value;
  const form = h(
    "form",
    {
      class: "row",
      onsubmit: async (/** @type {Event} */ ev) => {
        ev.preventDefault();
        const body = { title: value(title), author: value(author), link: value(link) };
        if (await act(null, () => api.post(`/programs/${programId}/readings`, body), t("cp.readingAdded"))) await reload();
      },
    },
    field(t("cp.readingTitle"), title),
    field(t("cp.readingAuthor"), author),
    field(t("cp.readingLink"), link),
    h("button", { type: "submit" }, t("cp.readingAdd")),
  );
  return h(
    "section",
    { class: "panel", id: "cp-readings" },
    h("h2", {}, t("cp.readings")),
    h("ul", { class: "list" }, items.map((r) => h("li", {}, `《${r.title}》`, r.author ? ` ${r.author}` : "", r.link ? h("a", { href: r.link, target: "_blank", rel: "noopener noreferrer" }, ` ${r.link}`) : ""))),
    form,
  );
}
