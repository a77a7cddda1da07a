// @ts-check
// Questions: the moderation lists (on air, to review, approved, answered) with their actions
// (approve, reject, edit, merge, pin, on air…) and the session's Q&A settings.
import { h, clear } from "/static/shared/dom.js";
import { t } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { act, button, field, fmtTime } from "../ui.js";
import { rerender } from "./context.js";

/**
 * One moderation action on a question (POST /questions/{id}/{action}), then reload the lists.
 * @param {import("./context.js").Dash} ctx
 * @param {EventTarget | null} btn
 * @param {number} id
 * @param {string} action
 * @param {object} [body]
 */
export async function moderate(ctx, btn, id, action, body) {
  await act(btn, async () => {
    await api.post(`/questions/${id}/${action}`, body);
    ctx.schedule("questions", "queue");
  });
}

/** @param {import("./context.js").Dash} ctx */
export function questionsPanel(ctx) {
  const { st, sessionId, siteName } = ctx;
  const modBox = h("div", { class: "moderation" });
  const settingsBox = h("div", { class: "qa-settings" });

  // Drafts survive the live re-renders of the list (a vote elsewhere must not eat the typing).
  /** @type {Map<number, string>} question id -> draft text */
  const editing = new Map();
  /** @type {Map<number, number>} question id -> chosen target id */
  const mergeChoice = new Map();

  /** @param {any} q */
  function editForm(q) {
    const area = /** @type {HTMLTextAreaElement} */ (h("textarea", { rows: "3", maxlength: "500", "data-key": `edit-area-${q.id}`, id: `edit-area-${q.id}` }));
    area.value = editing.get(q.id) || "";
    area.addEventListener("input", () => editing.set(q.id, area.value));
    return h(
      "form",
      {
        class: "inline-form",
        onsubmit: async (/** @type {SubmitEvent} */ ev) => {
          ev.preventDefault();
          const text = area.value;
          await act(ev.submitter, async () => {
            await api.post(`/questions/${q.id}/edit`, { text });
            editing.delete(q.id);
            ctx.schedule("questions", "queue");
          });
        },
      },
      field(t("qa.editText"), area),
      h("button", { type: "submit", class: "small", "data-key": `edit-save-${q.id}` }, t("ui.save")),
      button(t("ui.cancel"), () => {
        editing.delete(q.id);
        renderModeration();
      }, { class: "small secondary" }),
    );
  }

  /** @param {any} q */
  function editQuestion(q) {
    editing.set(q.id, q.text);
    renderModeration();
    const area = document.getElementById(`edit-area-${q.id}`);
    if (area) area.focus();
  }

  /**
   * @param {any} q
   * @param {any[]} approved
   */
  function mergeControl(q, approved) {
    const others = approved.filter((o) => o.id !== q.id);
    if (!others.length) return null;
    const sel = /** @type {HTMLSelectElement} */ (h(
      "select",
      { "aria-label": t("qa.mergeInto"), "data-key": `merge-sel-${q.id}` },
      others.map((o) => h("option", { value: String(o.id), selected: mergeChoice.get(q.id) === o.id }, `#${o.id} ${o.text.slice(0, 40)}`)),
    ));
    sel.addEventListener("change", () => mergeChoice.set(q.id, Number(sel.value)));
    return h(
      "span",
      { class: "merge" },
      sel,
      button(t("qa.merge"), (/** @type {Event} */ ev) => moderate(ctx, ev.currentTarget, q.id, "merge", { into: Number(sel.value) }), { class: "small secondary", "data-key": `merge-${q.id}` }),
    );
  }

  /**
   * @param {any} q
   * @param {any[]} approved
   */
  function questionItem(q, approved) {
    const b = (/** @type {string} */ key, /** @type {string} */ action, cls = "small") =>
      button(t(key), (/** @type {Event} */ ev) => moderate(ctx, ev.currentTarget, q.id, action), { class: cls, "data-key": `${action}-${q.id}`, "data-action": action });
    /** @type {Record<string, (Node|null)[]>} */
    const byState = {
      submitted: [b("qa.approve", "approve"), b("qa.reject", "reject", "small danger"), button(t("qa.edit"), () => editQuestion(q), { class: "small secondary", "data-key": `edit-${q.id}` })],
      approved: [
        b("qa.onAir", "on-air", "small primary"),
        q.pinned ? b("qa.unpin", "unpin", "small secondary") : b("qa.pin", "pin", "small secondary"),
        button(t("qa.edit"), () => editQuestion(q), { class: "small secondary", "data-key": `edit-${q.id}` }),
        mergeControl(q, approved),
        b("qa.reject", "reject", "small danger"),
      ],
      on_air: [b("qa.answered", "answered", "small primary"), b("qa.sendBack", "send-back", "small secondary")],
      answered: [b("qa.archive", "archive", "small secondary")],
      rejected: [b("qa.archive", "archive", "small secondary")],
    };
    const actions = byState[q.state] || [];
    return h(
      "li",
      { class: `q-item q-${q.state}`, "data-question-id": String(q.id), "data-state": q.state },
      h(
        "p",
        { class: "q-line" },
        q.pinned ? h("span", { class: "pill" }, t("qa.pinned")) : null,
        h("span", { class: "q-text" }, q.text),
      ),
      h(
        "p",
        { class: "q-meta note" },
        `#${q.id} · ${q.site_id ? siteName(q.site_id) : t("qa.noSite")} · ${fmtTime(q.created_at)} · ${t("qa.votes", { n: q.vote_count })}`,
        q.also_asked_count ? ` · ${t("qa.alsoAsked", { n: q.also_asked_count })}` : "",
        q.edited ? ` · ${t("qa.edited")}` : "",
      ),
      q.flags && q.flags.length
        ? h("p", { class: "flags" }, h("span", { class: "pill warn" }, t("qa.flagged")), " ", q.flags.join("、"))
        : null,
      q.edited && q.original_text ? h("p", { class: "note original" }, t("qa.original"), " ", q.original_text) : null,
      h("div", { class: "row-actions" }, actions),
      editing.has(q.id) ? editForm(q) : null,
    );
  }

  function renderSettings() {
    const cfg = st.qaSettings;
    const wasOpen = settingsBox.querySelector("details")?.open;
    clear(settingsBox);
    if (!cfg) return;
    const auto = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "qa-auto", checked: cfg.auto_approve }));
    const identity = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "qa-identity", checked: cfg.moderators_see_identity }));
    const words = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "qa-words", rows: "3" }));
    words.value = (cfg.sensitive_words || []).join("\n");
    settingsBox.appendChild(
      h(
        "details",
        { open: wasOpen },
        h("summary", {}, t("qa.settings"), " · ", cfg.auto_approve ? t("qa.autoOn") : t("qa.autoOff")),
        h(
          "form",
          {
            onsubmit: async (/** @type {SubmitEvent} */ ev) => {
              ev.preventDefault();
              await act(ev.submitter, async () => {
                st.qaSettings = await api.put(`/sessions/${sessionId}/qa-settings`, {
                  auto_approve: auto.checked,
                  moderators_see_identity: identity.checked,
                  sensitive_words: words.value.split(/[\n,，、]+/).map((w) => w.trim()).filter(Boolean),
                });
                renderSettings();
              }, t("manage.saved"));
            },
          },
          h("label", { for: "qa-auto", class: "check" }, auto, " ", t("qa.autoApprove")),
          h("br"),
          h("label", { for: "qa-identity", class: "check" }, identity, " ", t("qa.seeIdentity")),
          field(t("qa.words"), words, t("qa.wordsHint")),
          h("button", { type: "submit", class: "small primary", id: "qa-settings-save" }, t("ui.save")),
        ),
      ),
    );
  }

  function renderModeration() {
    const by = (/** @type {string} */ s) => st.questions.filter((q) => q.state === s);
    const approved = by("approved").sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.vote_count - a.vote_count);
    /** @type {[string, any[]][]} */
    const groups = [
      ["on_air", by("on_air")],
      ["submitted", by("submitted")],
      ["approved", approved],
      ["answered", by("answered")],
    ];
    rerender(modBox, () =>
      h(
        "div",
        {},
        groups.map(([state, items]) =>
          h(
            "div",
            { class: "q-group", id: `q-group-${state}` },
            h("h3", {}, t("qa.state." + state), " ", h("span", { class: "count" }, `(${items.length})`)),
            items.length ? h("ul", { class: "q-list" }, items.map((q) => questionItem(q, approved))) : h("p", { class: "note" }, t("ui.empty")),
          ),
        ),
      ),
    );
  }

  const loaders = {
    questions: async () => {
      const data = await api.get(`/sessions/${sessionId}/questions`, { order: "time", limit: 500 });
      st.questions = data.items;
      renderModeration();
    },
    qaSettings: async () => {
      try {
        st.qaSettings = await api.get(`/sessions/${sessionId}/qa-settings`);
      } catch (_err) {
        st.qaSettings = null;
      }
      renderSettings();
    },
  };

  return { el: [settingsBox, modBox], loaders };
}
