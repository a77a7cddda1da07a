// @ts-check
// The operator console: sign-in, navigation (hash routes) and the session list.
import { h, clear } from "/static/shared/dom.js";
import { t, applyI18n, langSwitch } from "/static/shared/i18n.js";
import { api, ApiError, errorText } from "/static/shared/api.js";
import { LiveHub, showConnection } from "/static/shared/live_events.js";
import "./messages.js";
import { flash, flashError, field, fmtDateTime, table } from "./ui.js";
import { dashboardView } from "./dashboard.js";
import { reportView } from "./report.js";
import { planView } from "./plan.js";
import { manageView } from "./manage.js";
import { codesView } from "./codes.js";
import { auditView } from "./audit.js";
import { panelSection } from "./panel.js";
import { findTraineeView, transcriptView, honourView } from "./people.js";
import { attendanceView } from "./attendance.js";
import { electivesView, feedbackView } from "./session_pages.js";
import { surveysView, surveyView } from "./surveys.js";
import { selfStudyView, selfStudyCompletionView } from "./selfstudy.js";
import { leaveView } from "./leave.js";
import { completionView } from "./completion.js";

/** An element of index.html (always there). @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const main = byId("main");
/** @type {{me: any, view: {destroy?: (why?: string) => void} | null}} me: GET /auth/me; view: the route shown */
const state = { me: null, view: null };

/** One live socket for the page; views add listeners and topics while shown. */
export const liveHub = new LiveHub({ onState: showConn });

/** @param {string} s */
function showConn(s) {
  showConnection(document.getElementById("conn"), s);
}

const ROUTES = [
  { re: /^#\/sessions\/(\d+)\/live$/, view: (m) => dashboardView(main, Number(m[1]), liveHub) },
  { re: /^#\/sessions\/(\d+)\/report$/, view: (m) => reportView(main, { sessionId: Number(m[1]) }) },
  { re: /^#\/reports$/, view: () => reportView(main, {}) },
  { re: /^#\/plan(?:\/(\d+))?$/, view: (m) => planView(main, m[1] ? Number(m[1]) : null) },
  { re: /^#\/manage(?:\/([a-z-]+))?$/, view: (m) => manageView(main, m[1] || "sessions", state.me.actor) },
  { re: /^#\/sessions$/, view: () => sessionsView(main) },
  { re: /^#\/codes$/, view: () => codesView(main) },
  { re: /^#\/audit$/, view: () => auditView(main) },
  { re: /^#\/transcripts$/, view: () => findTraineeView(main) },
  { re: /^#\/trainees\/(\d+)\/transcript$/, view: (m) => transcriptView(main, Number(m[1])) },
  { re: /^#\/honour$/, view: () => honourView(main) },
  { re: /^#\/leave$/, view: () => leaveView(main, state.me.actor) },
  { re: /^#\/completion(?:\/(\d+))?$/, view: (m) => completionView(main, m[1] ? Number(m[1]) : null) },
  { re: /^#\/surveys$/, view: () => surveysView(main) },
  { re: /^#\/selfstudy$/, view: () => selfStudyView(main) },
  { re: /^#\/selfstudy\/(\d+)$/, view: (m) => selfStudyCompletionView(main, Number(m[1])) },
  { re: /^#\/programs\/(\d+)\/survey$/, view: (m) => surveyView(main, Number(m[1])) },
  { re: /^#\/sessions\/(\d+)\/attendance$/, view: (m) => attendanceView(main, Number(m[1])) },
  { re: /^#\/sessions\/(\d+)\/electives$/, view: (m) => electivesView(main, Number(m[1])) },
  { re: /^#\/sessions\/(\d+)\/feedback$/, view: (m) => feedbackView(main, Number(m[1])) },
];

function navLinks() {
  const nav = byId("nav");
  clear(nav);
  if (!state.me) return;
  const managers = state.me.actor === "admin" || state.me.actor === "operator";
  const links = [
    ["#/sessions", "nav.sessions"],
    managers ? ["#/reports", "nav.reports"] : null,
    managers ? ["#/plan", "nav.plan"] : null,
    managers ? ["#/manage/sessions", "nav.manage"] : null,
    managers ? ["#/codes", "nav.codes"] : null,
    managers ? ["#/transcripts", "nav.transcripts"] : null,
    managers ? ["#/honour", "nav.honour"] : null,
    ["#/leave", "nav.leave"],
    managers ? ["#/completion", "nav.completion"] : null,
    managers ? ["#/surveys", "nav.surveys"] : null,
    managers ? ["#/selfstudy", "nav.selfstudy"] : null,
    managers ? ["#/audit", "nav.audit"] : null,
  ].filter((link) => link !== null);
  const here = window.location.hash || "#/sessions";
  nav.appendChild(
    h(
      "ul",
      {},
      links.map(([href, key]) =>
        h(
          "li",
          {},
          h("a", { href, "aria-current": here.startsWith(href.split("/").slice(0, 2).join("/")) ? "page" : null }, t(key)),
        ),
      ),
      h("li", {}, h("button", { type: "button", class: "link", onclick: logout }, t("nav.logout"))),
    ),
  );
}

/** @param {string} [why] "language": the view shown comes back in the new language */
async function route(why) {
  if (state.view && state.view.destroy) {
    try {
      state.view.destroy(why);
    } catch (err) {
      console.error(err);
    }
  }
  state.view = null;
  clear(main);
  if (!state.me) {
    loginView();
    return;
  }
  navLinks();
  const hash = window.location.hash || "#/sessions";
  for (const r of ROUTES) {
    const m = hash.match(r.re);
    if (m) {
      state.view = (await r.view(m)) || null;
      return;
    }
  }
  window.location.hash = "#/sessions";
}

function loginView() {
  const user = h("input", { type: "text", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, t("login.submit"));
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    {
      class: "login panel",
      onsubmit: async (ev) => {
        ev.preventDefault();
        error.textContent = "";
        submit.disabled = true;
        try {
          await api.post("/auth/login", { username: user.value.trim(), password: pass.value });
          state.me = await api.get("/auth/me");
          if (!STAFF.includes(state.me.actor)) {
            state.me = null;
            error.textContent = t("login.notStaff");
            return;
          }
          afterLogin();
        } catch (err) {
          error.textContent =
            err instanceof ApiError && (err.status === 401 || err.status === 400)
              ? t("login.failed")
              : errorText(err);
        } finally {
          submit.disabled = false;
        }
      },
    },
    h("h1", {}, t("login.title")),
    field(t("login.username"), user),
    field(t("login.password"), pass),
    error,
    submit,
  );
  main.appendChild(form);
  user.focus();
}

function afterLogin() {
  byId("who").textContent = state.me ? `${state.me.name} · ${t("role." + state.me.actor)}` : "";
  liveHub.start();
  if (!window.location.hash || window.location.hash === "#/login") window.location.hash = "#/sessions";
  else route();
}

async function logout() {
  try {
    await api.post("/auth/logout");
  } catch (err) {
    flashError(err);
  }
  state.me = null;
  liveHub.stop();
  byId("who").textContent = "";
  navLinks();
  window.location.hash = "#/login";
  route();
}

const STAFF = ["admin", "operator", "moderator"];
const STATUS_FILTERS = ["", "live", "scheduled", "ended"];

async function sessionsView(root) {
  const manager = Boolean(state.me) && state.me.actor !== "moderator";
  const search = h("input", { type: "search", name: "q", maxlength: "100" });
  const status = h(
    "select",
    { name: "status" },
    STATUS_FILTERS.map((s) => h("option", { value: s }, s ? t("status." + s) : t("sessions.allStatuses"))),
  );
  const list = h("div", { class: "session-list" });
  const load = async () => {
    try {
      const data = await api.get("/sessions", { limit: 500, q: search.value.trim() || undefined });
      let items = data.items;
      if (status.value) items = items.filter((s) => s.status === status.value);
      items.sort((a, b) => (a.status === "live" ? -1 : 0) - (b.status === "live" ? -1 : 0) || a.starts_at.localeCompare(b.starts_at));
      clear(list).appendChild(
        table(
          [
            { label: t("sessions.title"), cell: (s) => s.title || `#${s.id}` },
            { label: t("sessions.starts"), cell: (s) => fmtDateTime(s.starts_at) },
            { label: t("sessions.status"), cell: (s) => h("span", { class: `badge st-${s.status}` }, t("status." + s.status)) },
            { label: t("sessions.sites"), cell: (s) => String(s.site_ids.length), class: "num" },
            {
              label: t("sessions.open"),
              cell: (s) =>
                h(
                  "span",
                  { class: "row-actions" },
                  h("a", { href: `#/sessions/${s.id}/live`, class: "btn", "data-session": String(s.id) }, t("sessions.dashboard")),
                  h("a", { href: `#/sessions/${s.id}/report`, class: "btn secondary" }, t("sessions.report")),
                  manager ? h("a", { href: `#/sessions/${s.id}/attendance`, class: "btn secondary" }, t("tabs.attendance")) : null,
                  manager ? h("a", { href: `#/sessions/${s.id}/electives`, class: "btn secondary" }, t("tabs.electives")) : null,
                  manager ? h("a", { href: `#/sessions/${s.id}/feedback`, class: "btn secondary" }, t("tabs.feedback")) : null,
                ),
            },
          ],
          items,
          { caption: t("sessions.caption", { n: items.length }) },
        ),
      );
    } catch (err) {
      flashError(err);
    }
  };
  search.addEventListener("change", load);
  status.addEventListener("change", load);
  root.appendChild(
    panelSection(
      t("sessions.heading"),
      h("div", { class: "toolbar" }, field(t("sessions.search"), search), field(t("sessions.statusFilter"), status)),
      list,
    ),
  );
  await load();
  return null;
}

async function boot() {
  applyI18n();
  byId("lang-slot").appendChild(langSwitch());
  window.addEventListener("langchange", () => {
    applyI18n();
    showConn(liveHub.state);
    if (state.me) byId("who").textContent = `${state.me.name} · ${t("role." + state.me.actor)}`;
    route("language");
  });
  window.addEventListener("hashchange", () => route());
  window.addEventListener("auth-lost", () => {
    if (!state.me) return;
    state.me = null;
    liveHub.stop();
    byId("who").textContent = "";
    navLinks();
    route();
  });
  try {
    state.me = await api.get("/auth/me");
    if (!STAFF.includes(state.me.actor)) state.me = null;
  } catch (err) {
    state.me = null;
    if (!(err instanceof ApiError && err.status === 401)) flashError(err);
  }
  if (state.me) afterLogin();
  else route();
}

boot();

export { flash };
