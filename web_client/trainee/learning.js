// @ts-check
// The trainee's own business beyond the live session: electives to register for (seats left,
// waitlist place), needs surveys to answer (rank the topics by tapping them in order), and
// feedback on the sessions attended. Every text goes in as text (h()).
import { h, clear, $ } from "/static/shared/dom.js";
import { addMessages, t, getLang } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { fmtDateTime } from "/static/shared/time.js";

addMessages({
  zh: {
    "electives.title": "选课报名",
    "electives.seats": "已报 {registered}/{capacity} 人 · 候补 {waitlisted} 人",
    "electives.unlimited": "已报 {registered} 人（不限名额）",
    "electives.register": "报名",
    "electives.cancel": "取消报名",
    "electives.registered": "已报名",
    "electives.waitlisted": "候补第 {n} 位",
    "electives.closed": "报名已截止",
    "electives.full": "名额已满，报名将进入候补",
    "electives.done_registered": "报名成功。",
    "electives.done_waitlisted": "名额已满，您已进入候补第 {n} 位，有人取消时自动递补。",
    "electives.done_cancelled": "已取消报名。",
    "surveys.title": "需求调研",
    "surveys.help": "按重要程度依次点选主题（先点的最重要），再点一次可取消。",
    "surveys.rank": "第 {n} 位",
    "surveys.needs": "其他需求或建议（可选）",
    "surveys.submit": "提交调研",
    "surveys.update": "修改并重新提交",
    "surveys.answered": "已提交。您的排序：{ranking}",
    "surveys.done": "调研已提交，谢谢。",
    "surveys.pick": "请至少选择一个主题，或填写您的需求。",
    "feedback.title": "课后评价",
    "feedback.course": "课程总体评价",
    "feedback.lecturer": "对 {name} 老师的评价",
    "feedback.comment": "意见和建议（可选）",
    "feedback.submit": "提交评价",
    "feedback.given": "已评价：{stars}",
    "feedback.change": "修改评价",
    "feedback.done": "评价已提交，谢谢。",
    "feedback.pick": "请先为课程打分。",
    "feedback.stars": "{n} 星",
    "feedback.due": "待评价",
    "feedback.older": "更早的课程（{n} 场）",
  },
  en: {
    "electives.title": "Electives",
    "electives.seats": "{registered}/{capacity} registered · {waitlisted} waiting",
    "electives.unlimited": "{registered} registered (no limit)",
    "electives.register": "Register",
    "electives.cancel": "Cancel registration",
    "electives.registered": "Registered",
    "electives.waitlisted": "Waitlist no. {n}",
    "electives.closed": "Registration closed",
    "electives.full": "Full: registering puts you on the waitlist",
    "electives.done_registered": "You are registered.",
    "electives.done_waitlisted": "Full: you are no. {n} on the waitlist and move up when someone cancels.",
    "electives.done_cancelled": "Registration cancelled.",
    "surveys.title": "Needs survey",
    "surveys.help": "Tap the topics in order of importance (most important first); tap again to undo.",
    "surveys.rank": "No. {n}",
    "surveys.needs": "Other needs or suggestions (optional)",
    "surveys.submit": "Submit",
    "surveys.update": "Change and submit again",
    "surveys.answered": "Submitted. Your order: {ranking}",
    "surveys.done": "Thank you; your answer is in.",
    "surveys.pick": "Choose at least one topic or describe your needs.",
    "feedback.title": "Feedback",
    "feedback.course": "The session overall",
    "feedback.lecturer": "Lecturer {name}",
    "feedback.comment": "Comments (optional)",
    "feedback.submit": "Send feedback",
    "feedback.given": "Rated: {stars}",
    "feedback.change": "Change my feedback",
    "feedback.done": "Thank you for your feedback.",
    "feedback.pick": "Rate the session first.",
    "feedback.stars": "{n} stars",
    "feedback.due": "to rate",
    "feedback.older": "Earlier sessions ({n})",
    "feedback.stars.one": "1 star",
  },
});

/**
 * What the server answered (GET /trainee/electives, /trainee/surveys, /trainee/feedback), the
 * topics ticked per survey (program id -> the topics in order; "text<program id>" -> the needs
 * typed so far), the answers being changed ("s<program id>", "f<session id>"), the feedback
 * being written (session id -> the stars and comment so far: a redraw after a reconnect or an
 * elective's sign-up keeps them).
 * @type {{electives: any[], surveys: any[], feedback: any[], ranking: Map<number | string, any>, editing: Set<string>, drafts: Map<number, {course?: number, lecturer?: number, comment?: string}>}}
 */
const state = { electives: [], surveys: [], feedback: [], ranking: new Map(), editing: new Set(), drafts: new Map() };
/** @type {{ok: (text: string) => void, error: (err: unknown) => void}} */
let say = { ok: () => {}, error: () => {} };

/** `sayer.ok(text)` and `sayer.error(text or error)` write the page's message line. */
export function setupLearning(sayer) {
  say = sayer;
}

function when(iso) {
  return fmtDateTime(iso, getLang()); // one format on the whole page, in the server's zone
}

export async function loadLearning() {
  const [electives, surveys, feedback] = await Promise.all([
    api.get("/trainee/electives"),
    api.get("/trainee/surveys"),
    api.get("/trainee/feedback"),
  ]);
  state.electives = electives.items;
  state.surveys = surveys.items;
  state.feedback = feedback.items;
  renderLearning();
}

export function renderLearning() {
  renderElectives();
  renderSurveys();
  renderFeedback();
}

// ---------------------------------------------------------------- electives

function renderElectives() {
  const card = $("#electives-card");
  const list = $("#electives");
  card.hidden = !state.electives.length;
  clear(list);
  for (const e of state.electives) {
    const seats = e.capacity == null ? t("electives.unlimited", e) : t("electives.seats", e);
    const tags = [];
    if (e.my_status === "registered") tags.push(h("span", { class: "tag ok" }, t("electives.registered")));
    if (e.my_status === "waitlisted") tags.push(h("span", { class: "tag" }, t("electives.waitlisted", { n: e.my_position })));
    let action = null;
    if (e.my_status) action = h("button", { type: "button", onclick: () => cancel(e.session_id).catch(say.error) }, t("electives.cancel"));
    else if (e.registration_open) action = h("button", { type: "button", class: "primary", onclick: () => register(e.session_id).catch(say.error) }, t("electives.register"));
    else tags.push(h("span", { class: "tag bad" }, t("electives.closed")));
    list.appendChild(
      h(
        "li",
        { class: "elective", "data-session-id": String(e.session_id) },
        h("p", { class: "q-text" }, h("strong", {}, e.title)),
        h("p", { class: "q-meta" }, `${when(e.starts_at)} · ${e.lecturer || e.course_title}`),
        h("p", { class: "q-meta" }, seats, " ", tags),
        !e.my_status && e.registration_open && e.seats_left === 0 ? h("p", { class: "q-meta" }, t("electives.full")) : null,
        action ? h("div", { class: "row" }, action) : null,
      ),
    );
  }
}

async function register(sessionId) {
  const r = await api.post(`/sessions/${sessionId}/registration`);
  say.ok(r.status === "waitlisted" ? t("electives.done_waitlisted", { n: r.position }) : t("electives.done_registered"));
  await loadLearning();
}

async function cancel(sessionId) {
  await api.del(`/sessions/${sessionId}/registration`);
  say.ok(t("electives.done_cancelled"));
  await loadLearning();
}

// ---------------------------------------------------------------- needs surveys

function renderSurveys() {
  const card = $("#surveys-card");
  const area = $("#surveys");
  card.hidden = !state.surveys.length;
  clear(area);
  for (const s of state.surveys) {
    const box = h("div", { class: "survey", "data-program-id": String(s.program_id) }, h("p", {}, h("strong", {}, s.program)));
    area.appendChild(box);
    if (s.answered && !state.editing.has(`s${s.program_id}`)) {
      box.appendChild(h("p", { class: "message ok" }, t("surveys.answered", { ranking: (s.my_ranking || []).join(" > ") || "—" })));
      box.appendChild(
        h("button", { type: "button", onclick: () => { state.editing.add(`s${s.program_id}`); state.ranking.set(s.program_id, [...(s.my_ranking || [])]); renderSurveys(); } }, t("surveys.update")),
      );
      continue;
    }
    const order = state.ranking.get(s.program_id) || [];
    const toggle = (topic) => {
      const now = state.ranking.get(s.program_id) || [];
      state.ranking.set(s.program_id, now.includes(topic) ? now.filter((x) => x !== topic) : [...now, topic]);
      renderSurveys();
      const again = area.querySelector(`[data-program-id="${s.program_id}"] button[data-topic="${CSS.escape(topic)}"]`);
      if (again) again.focus();
    };
    const needsId = `needs-${s.program_id}`;
    const needs = h("textarea", { id: needsId, maxlength: "2000" });
    needs.value = state.ranking.get(`text${s.program_id}`) ?? s.my_needs_text ?? "";
    needs.addEventListener("input", () => state.ranking.set(`text${s.program_id}`, needs.value));
    box.append(
      h("p", { class: "muted" }, t("surveys.help")),
      h(
        "div",
        { class: "topics" },
        s.topics.map((topic) => {
          const at = order.indexOf(topic);
          return h(
            "button",
            { type: "button", class: "topic", "data-topic": topic, "aria-pressed": at >= 0 ? "true" : "false", onclick: () => toggle(topic) },
            at >= 0 ? h("span", { class: "rank" }, t("surveys.rank", { n: at + 1 })) : null,
            h("span", {}, topic),
          );
        }),
      ),
      h("label", { for: needsId }, t("surveys.needs")),
      needs,
      h("div", { class: "row" }, h("button", { type: "button", class: "primary", onclick: () => answer(s, needs.value).catch(say.error) }, t("surveys.submit"))),
    );
  }
}

async function answer(survey, text) {
  const ranking = state.ranking.get(survey.program_id) || [];
  if (!ranking.length && !text.trim()) {
    say.error(t("surveys.pick"));
    return;
  }
  const body = { ranking };
  if (text.trim()) body.needs_text = text.trim();
  await api.post(`/programs/${survey.program_id}/needs-survey/response`, body);
  state.editing.delete(`s${survey.program_id}`);
  state.ranking.delete(survey.program_id);
  state.ranking.delete(`text${survey.program_id}`);
  say.ok(t("surveys.done"));
  await loadLearning();
}

// ---------------------------------------------------------------- feedback

const stars = (n) => "★".repeat(n) + "☆".repeat(5 - n);

function ratingField(name, legend, current) {
  return h(
    "fieldset",
    { class: "rating" },
    h("legend", {}, legend),
    h(
      "div",
      { class: "row" },
      [1, 2, 3, 4, 5].map((n) =>
        h(
          "label",
          { class: "option star", for: `${name}-${n}`, title: t("feedback.stars", { n }) },
          h("input", { type: "radio", name, id: `${name}-${n}`, value: String(n), checked: current === n, "aria-label": t("feedback.stars", { n }) }),
          h("span", { "aria-hidden": "true" }, stars(n).slice(0, n)),
        ),
      ),
    ),
  );
}

function renderFeedback() {
  const card = $("#feedback-card");
  const area = $("#feedback");
  card.hidden = !state.feedback.length;
  clear(area);
  // Newest first. The newest session not yet rated opens its form; the others are one line
  // each (tap to rate or change), and all but the newest few fold under 更早的课程.
  const items = [...state.feedback].sort((a, b) => String(b.starts_at).localeCompare(String(a.starts_at)));
  const first = items.find((f) => !f.given);
  const rows = items.map((f) => feedbackItem(f, f === first || state.editing.has(`f${f.session_id}`) || state.drafts.has(f.session_id)));
  area.append(...rows.slice(0, FEEDBACK_SHOWN));
  if (rows.length > FEEDBACK_SHOWN) {
    area.appendChild(h("details", { class: "more", id: "feedback-older" }, h("summary", {}, t("feedback.older", { n: rows.length - FEEDBACK_SHOWN })), rows.slice(FEEDBACK_SHOWN)));
  }
}

const FEEDBACK_SHOWN = 3;

/** One session's feedback: what I gave, or a folded form (open for the newest unrated). */
function feedbackItem(f, open) {
  const head = [h("strong", {}, f.title), " ", h("span", { class: "q-meta" }, when(f.starts_at))];
  if (f.given && !state.editing.has(`f${f.session_id}`)) {
    return h(
      "div",
      { class: "feedback", "data-session-id": String(f.session_id) },
      h("p", {}, head),
      h("p", { class: "message ok" }, t("feedback.given", { stars: stars(f.my_rating) })),
      h("button", { type: "button", onclick: () => { state.editing.add(`f${f.session_id}`); renderFeedback(); } }, t("feedback.change")),
    );
  }
  const commentId = `fb-comment-${f.session_id}`;
  const draft = state.drafts.get(f.session_id) || {};
  const comment = h("textarea", { id: commentId, maxlength: "2000" });
  comment.value = draft.comment ?? f.my_comment ?? "";
  const courseName = `fb-course-${f.session_id}`;
  const lecturerName = `fb-lecturer-${f.session_id}`;
  /** What is ticked and typed so far, kept for the next redraw. @param {Event} ev */
  const keep = (ev) => {
    const typed = /** @type {HTMLFormElement} */ (ev.currentTarget);
    const picked = (/** @type {string} */ name) => {
      const box = /** @type {HTMLInputElement | null} */ (typed.querySelector(`input[name="${name}"]:checked`));
      return box ? Number(box.value) : undefined;
    };
    state.drafts.set(f.session_id, { course: picked(courseName), lecturer: picked(lecturerName), comment: comment.value });
  };
  const form = h(
    "form",
    { class: "feedback", "data-session-id": String(f.session_id), onsubmit: (ev) => sendFeedback(ev, f).catch(say.error), onchange: keep, oninput: keep },
    ratingField(courseName, t("feedback.course"), draft.course ?? f.my_rating),
    f.lecturer ? ratingField(lecturerName, t("feedback.lecturer", { name: f.lecturer }), draft.lecturer ?? f.my_lecturer_rating) : null,
    h("label", { for: commentId }, t("feedback.comment")),
    comment,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("feedback.submit"))),
  );
  return h("details", { class: "feedback-item", open }, h("summary", {}, head, " ", h("span", { class: "tag" }, t("feedback.due"))), form);
}

async function sendFeedback(ev, f) {
  ev.preventDefault();
  const form = ev.target;
  const course = form.querySelector(`input[name="fb-course-${f.session_id}"]:checked`);
  if (!course) {
    say.error(t("feedback.pick"));
    return;
  }
  const body = { course_rating: Number(course.value) };
  const lecturer = form.querySelector(`input[name="fb-lecturer-${f.session_id}"]:checked`);
  if (lecturer && f.lecturer) body.lecturer_ratings = { [f.lecturer]: Number(lecturer.value) };
  const comment = form.querySelector("textarea").value.trim();
  if (comment) body.comment = comment;
  await api.post(`/sessions/${f.session_id}/feedback`, body);
  state.editing.delete(`f${f.session_id}`);
  state.drafts.delete(f.session_id);
  say.ok(t("feedback.done"));
  await loadLearning();
}
