// @ts-check
// Between the live days (issue 17.2–17.5): 我的待办 (what is due), 请假 (ask leave, see its
// state), 学用成果 (the write-up, with the set reading) and my certificates. Its cards are made
// here and put after the session card; app.js only calls setupBetween / loadBetween /
// renderBetween.
import { h, clear, $ } from "/static/shared/dom.js";
import { t, getLang, addMessages } from "/static/shared/i18n.js";
import { api, downloadUrl } from "/static/shared/api.js";
import { fmtDateTime, fmtDate } from "/static/shared/time.js";
import { notice, showError } from "./context.js";

addMessages({
  zh: {
    "todo.title": "我的待办",
    "todo.none": "暂无待办事项。",
    "todo.live": "参加集中授课：{title}",
    "todo.room": "地点：{room}",
    "todo.selfStudy": "自学课程：{title}（已看 {percent}%）",
    "todo.closes": "截止 {when}",
    "todo.writeup": "提交学用成果",
    "todo.writeup.needs_revision": "学用成果被退回，请修改后重新提交",
    "todo.writeup.submitted": "学用成果已提交，等待评阅",
    "todo.leave": "请假：{state}",
    "leave.title": "请假",
    "leave.sessions": "选择要请假的场次",
    "leave.more": "更晚的场次（{n} 场）",
    "leave.noSessions": "近期没有需要参加的场次。",
    "leave.reason": "请假事由",
    "leave.submit": "提交请假申请",
    "leave.sent": "请假申请已提交，请等待审批。",
    "leave.mine": "我的请假申请",
    "leave.none": "还没有请假申请。",
    "leave.withdraw": "撤回",
    "leave.withdrawn.ok": "已撤回。",
    "leave.asked": "已申请",
    "leave.state.requested": "待审批",
    "leave.state.approved": "已批准",
    "leave.state.refused": "未批准",
    "leave.state.withdrawn": "已撤回",
    "leave.note": "审批意见：{note}",
    "leave.why": "未批准的原因：{note}",
    "writeup.title": "学用成果",
    "writeup.none": "暂无需要提交学用成果的培训项目。",
    "writeup.program": "培训项目：{name}",
    "writeup.required": "本项目结业需要提交学用成果。",
    "writeup.closed": "首次集中授课结束后即可提交。",
    "writeup.state.submitted": "已提交，等待评阅",
    "writeup.state.accepted": "已通过",
    "writeup.state.needs_revision": "退回修改",
    "writeup.comment": "评语：{comment}",
    "writeup.text": "学用成果（{min}–{max} 字）",
    "writeup.count": "已写 {n} 字",
    "writeup.file": "附件（可选：PDF、Word、图片，不超过 5 MB）",
    "writeup.attached": "已上传附件：{name}",
    "writeup.submit": "提交学用成果",
    "writeup.sent": "学用成果已提交。",
    "writeup.readings": "研读书目",
    "writeup.noReadings": "暂无书目。",
    "writeup.open": "查看",
    "cert.title": "结业证书",
    "cert.download": "下载证书（PDF）",
    "cert.code": "验证码 {code}",
    "cert.revoked": "已撤销，不再有效",
    "hours.onLeave": "请假",
  },
  en: {
    "todo.title": "My to-do",
    "todo.none": "Nothing is due.",
    "todo.live": "Attend the live day: {title}",
    "todo.room": "Room: {room}",
    "todo.selfStudy": "Self-study: {title} ({percent}% watched)",
    "todo.closes": "closes {when}",
    "todo.writeup": "Submit your write-up",
    "todo.writeup.needs_revision": "Your write-up was returned: revise and submit it again",
    "todo.writeup.submitted": "Write-up submitted, waiting to be marked",
    "todo.leave": "Leave: {state}",
    "leave.title": "Leave",
    "leave.sessions": "Choose the sessions you will miss",
    "leave.more": "Later sessions ({n})",
    "leave.noSessions": "No coming sessions to attend.",
    "leave.reason": "Reason",
    "leave.submit": "Ask for leave",
    "leave.sent": "Leave request sent; wait for the decision.",
    "leave.mine": "My leave requests",
    "leave.none": "No leave requests yet.",
    "leave.withdraw": "Withdraw",
    "leave.withdrawn.ok": "Withdrawn.",
    "leave.asked": "asked",
    "leave.state.requested": "waiting",
    "leave.state.approved": "approved",
    "leave.state.refused": "refused",
    "leave.state.withdrawn": "withdrawn",
    "leave.note": "Note: {note}",
    "leave.why": "Reason for refusal: {note}",
    "writeup.title": "Write-up",
    "writeup.none": "No program asks you for a write-up yet.",
    "writeup.program": "Program: {name}",
    "writeup.required": "Completing this program needs an accepted write-up.",
    "writeup.closed": "You can submit it after the first live day.",
    "writeup.state.submitted": "Submitted, waiting to be marked",
    "writeup.state.accepted": "Accepted",
    "writeup.state.needs_revision": "Needs revision",
    "writeup.comment": "Comment: {comment}",
    "writeup.text": "Your write-up ({min}–{max} characters)",
    "writeup.count": "{n} characters",
    "writeup.file": "Attachment (optional: PDF, Word, picture; at most 5 MB)",
    "writeup.attached": "Attached: {name}",
    "writeup.submit": "Submit the write-up",
    "writeup.sent": "Write-up submitted.",
    "writeup.readings": "Set reading",
    "writeup.noReadings": "No reading listed.",
    "writeup.open": "Open",
    "cert.title": "Certificates",
    "cert.download": "Download certificate (PDF)",
    "cert.code": "Code {code}",
    "cert.revoked": "Revoked, no longer valid",
    "hours.onLeave": "on leave",
  },
});

const SOON_DAYS = 14; // the leave card lists these days' sessions in view
const MIN_SHOWN = 3;

/** @type {{todo: any, leave: any, writeup: any, certs: any[], draft: string}} */
const between = { todo: null, leave: null, writeup: null, certs: [], draft: "" };

/** Put the cards in (once): 我的待办 after the session card, the others after my hours. */
export function setupBetween() {
  if ($("#todo-card")) return;
  const todo = h("section", { id: "todo-card", class: "card", "aria-labelledby": "todo-h" }, h("h2", { id: "todo-h" }), h("div", { id: "todo-area" }));
  const rest = [
    h("section", { id: "leave-card", class: "card", "aria-labelledby": "leave-h" }, h("h2", { id: "leave-h" }), h("div", { id: "leave-area" })),
    h("section", { id: "writeup-card", class: "card", "aria-labelledby": "writeup-h" }, h("h2", { id: "writeup-h" }), h("div", { id: "writeup-area" })),
    h("section", { id: "cert-card", class: "card", "aria-labelledby": "cert-h", hidden: true }, h("h2", { id: "cert-h" }), h("ul", { id: "cert-list", class: "list" })),
  ];
  const view = $("#app-view");
  const place = (/** @type {Element|null|undefined} */ anchor, /** @type {HTMLElement[]} */ cards) => {
    let after = anchor;
    for (const card of cards) {
      if (after && after.parentNode) after.after(card);
      else view?.appendChild(card);
      after = card;
    }
  };
  place($("#session-area")?.closest("section"), [todo]);
  place($("#hours-area")?.closest("section"), rest);
}

export async function loadBetween() {
  setupBetween();
  const [todo, leave, writeup, certs] = await Promise.all([
    api.get("/trainee/todo"),
    api.get("/trainee/leave"),
    api.get("/trainee/writeup"),
    api.get("/trainee/certificates"),
  ]);
  Object.assign(between, { todo, leave, writeup, certs: certs.items });
  renderBetween();
}

export function renderBetween() {
  setupBetween();
  $("#todo-h").textContent = t("todo.title");
  $("#leave-h").textContent = t("leave.title");
  $("#writeup-h").textContent = t("writeup.title");
  $("#cert-h").textContent = t("cert.title");
  renderTodo();
  renderLeave();
  renderWriteup();
  renderCerts();
}

/** @param {string} iso */
const when = (iso) => fmtDateTime(iso, getLang());

function renderTodo() {
  const area = $("#todo-area");
  clear(area);
  const programs = between.todo ? between.todo.programs : [];
  const list = h("ul", { class: "list", id: "todo-list" });
  for (const p of programs) {
    for (const item of p.items) list.appendChild(todoItem(item, programs.length > 1 ? p.program.name : ""));
  }
  area.appendChild(list.childNodes.length ? list : h("p", { class: "muted" }, t("todo.none")));
}

/** @param {any} item @param {string} program */
function todoItem(item, program) {
  /** @type {(Node|string)[]} */
  const lines = [];
  if (item.kind === "live") {
    lines.push(h("div", { class: "big" }, t("todo.live", { title: item.title })));
    lines.push(h("div", { class: "muted" }, when(item.when), " · ", t("todo.room", { room: item.room || "—" })));
  } else if (item.kind === "self_study") {
    lines.push(h("div", {}, t("todo.selfStudy", { title: item.title, percent: Math.round((item.progress || 0) * 100) })));
    if (item.when) lines.push(h("div", { class: "muted" }, t("todo.closes", { when: when(item.when) })));
  } else if (item.kind === "writeup") {
    const key = item.state === "not_submitted" ? "todo.writeup" : `todo.writeup.${item.state}`;
    lines.push(h("div", {}, t(key)));
  } else if (item.kind === "leave") {
    lines.push(h("div", {}, t("todo.leave", { state: t(`leave.state.${item.state}`) }), " · ", when(item.when)));
  }
  if (program) lines.push(h("div", { class: "muted" }, program));
  return h("li", { class: `todo-${item.kind}` }, lines);
}

function renderLeave() {
  const area = $("#leave-area");
  clear(area);
  const data = between.leave;
  if (!data) return;
  const open = data.sessions.filter((/** @type {any} */ s) => !s.asked);
  if (open.length) {
    const box = (/** @type {any} */ s) =>
      h(
        "label",
        { class: "inline leave-session" },
        h("input", { type: "checkbox", value: String(s.id), name: "leave-session" }),
        " ",
        `${s.title} · ${when(s.starts_at)}`,
        s.room ? ` · ${s.room}` : "",
      );
    // The next two weeks (at least three sessions) in view; the rest of the program folded
    // away, so the card does not push everything else off a phone's screen.
    const soon = Date.now() + SOON_DAYS * 86400000;
    const shown = Math.max(MIN_SHOWN, open.filter((/** @type {any} */ s) => new Date(s.starts_at).getTime() <= soon).length);
    /** @type {(Node|null)[]} */
    const boxes = open.slice(0, shown).map(box);
    const later = open.slice(shown);
    if (later.length) boxes.push(h("details", { class: "more", id: "leave-more" }, h("summary", {}, t("leave.more", { n: later.length })), later.map(box)));
    const reason = h("textarea", { id: "leave-reason", maxlength: "500", rows: "3" });
    const form = h(
      "form",
      { id: "leave-form", novalidate: true, onsubmit: onAsk },
      h("fieldset", {}, h("legend", {}, t("leave.sessions")), boxes),
      h("label", { for: "leave-reason" }, t("leave.reason")),
      reason,
      h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, t("leave.submit"))),
    );
    area.appendChild(form);
  } else {
    area.appendChild(h("p", { class: "muted" }, t("leave.noSessions")));
  }
  area.appendChild(h("h3", {}, t("leave.mine")));
  if (!data.requests.length) {
    area.appendChild(h("p", { class: "muted" }, t("leave.none")));
    return;
  }
  const list = h("ul", { class: "list", id: "leave-list" });
  for (const r of data.requests) {
    const withdraw =
      r.state === "requested" || (r.state === "approved" && new Date(r.first_start) > new Date())
        ? h("button", { type: "button", onclick: () => onWithdraw(r.id) }, t("leave.withdraw"))
        : null;
    list.appendChild(
      h(
        "li",
        { "data-state": r.state },
        h("div", { class: "row" }, h("span", { class: `tag leave-${r.state}` }, t(`leave.state.${r.state}`)), h("span", { class: "grow" }, r.reason), withdraw),
        h("div", { class: "muted" }, r.sessions.map((/** @type {any} */ s) => `${s.title} ${when(s.starts_at)}`).join("；")),
        r.note ? h("div", { class: r.state === "refused" ? "leave-why" : "muted" }, t(r.state === "refused" ? "leave.why" : "leave.note", { note: r.note })) : null,
      ),
    );
  }
  area.appendChild(list);
}

/** @param {Event} event */
async function onAsk(event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.target);
  const ids = Array.from(form.querySelectorAll("input[name=leave-session]:checked"), (el) => Number(/** @type {HTMLInputElement} */ (el).value));
  const reason = /** @type {HTMLTextAreaElement} */ ($("#leave-reason")).value;
  await sendThenReload(() => api.post("/trainee/leave", { session_ids: ids, reason }), "leave.sent");
}

/** @param {number} id */
async function onWithdraw(id) {
  await sendThenReload(() => api.post(`/leave/${id}/withdraw`), "leave.withdrawn.ok");
}

/**
 * What every change on these cards does: send it; once it is through, say so and reload the
 * cards; if anything fails, show the error.
 * @param {() => Promise<unknown>} send
 * @param {string} okKey the message said when it went through
 */
async function sendThenReload(send, okKey) {
  try {
    await send();
    notice(t(okKey), "ok");
    await loadBetween();
  } catch (err) {
    showError(err);
  }
}

function renderWriteup() {
  const area = $("#writeup-area");
  clear(area);
  const data = between.writeup;
  if (!data || !data.program) {
    area.appendChild(h("p", { class: "muted" }, t("writeup.none")));
    return;
  }
  area.appendChild(h("p", {}, t("writeup.program", { name: data.program.name })));
  if (data.required) area.appendChild(h("p", { class: "muted" }, t("writeup.required")));
  area.appendChild(h("h3", {}, t("writeup.readings")));
  if (data.readings.length) {
    area.appendChild(
      h(
        "ul",
        { class: "list", id: "readings" },
        data.readings.map((/** @type {any} */ r) =>
          h(
            "li",
            {},
            h("span", {}, `《${r.title}》`, r.author ? ` ${r.author}` : ""),
            " ",
            r.link ? h("a", { href: r.link, target: "_blank", rel: "noopener noreferrer" }, t("writeup.open")) : null,
            r.has_file ? h("a", { href: downloadUrl(`/readings/${r.id}/file`) }, t("writeup.open")) : null,
          ),
        ),
      ),
    );
  } else area.appendChild(h("p", { class: "muted" }, t("writeup.noReadings")));
  const mine = data.writeup;
  if (mine) {
    area.appendChild(h("p", { id: "writeup-state" }, h("span", { class: `tag writeup-${mine.state}` }, t(`writeup.state.${mine.state}`)), " ", fmtDate(mine.submitted_at)));
    if (mine.comment) area.appendChild(h("p", { class: "muted" }, t("writeup.comment", { comment: mine.comment })));
    if (mine.file_name) area.appendChild(h("p", { class: "muted" }, t("writeup.attached", { name: mine.file_name })));
  }
  if (mine && mine.state === "accepted") return;
  if (!data.open) {
    area.appendChild(h("p", { class: "muted" }, t("writeup.closed")));
    return;
  }
  const text = /** @type {HTMLTextAreaElement} */ (h("textarea", { id: "writeup-text", rows: "8", maxlength: String(data.max_len) }));
  text.value = between.draft || (mine ? mine.text : "");
  const count = h("p", { class: "muted", id: "writeup-count" }, t("writeup.count", { n: text.value.length }));
  text.addEventListener("input", () => {
    between.draft = text.value;
    count.textContent = t("writeup.count", { n: text.value.length });
  });
  area.appendChild(
    h(
      "form",
      { id: "writeup-form", novalidate: true, onsubmit: onWriteup },
      h("label", { for: "writeup-text" }, t("writeup.text", { min: data.min_len, max: data.max_len })),
      text,
      count,
      h("label", { for: "writeup-file" }, t("writeup.file")),
      h("input", { id: "writeup-file", type: "file", accept: ".pdf,.docx,.png,.jpg,.jpeg" }),
      h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, t("writeup.submit"))),
    ),
  );
}

/** @param {Event} event */
async function onWriteup(event) {
  event.preventDefault();
  const data = between.writeup;
  const text = /** @type {HTMLTextAreaElement} */ ($("#writeup-text")).value;
  const input = /** @type {HTMLInputElement} */ ($("#writeup-file"));
  await sendThenReload(async () => {
    await api.post("/trainee/writeup", { program_id: data.program.id, text });
    if (input.files && input.files.length) {
      const form = new FormData();
      form.append("file", input.files[0]);
      await api.upload(`/trainee/writeup/file?program_id=${data.program.id}`, form);
    }
    between.draft = "";
  }, "writeup.sent");
}

function renderCerts() {
  const card = $("#cert-card");
  const list = $("#cert-list");
  clear(list);
  card.hidden = !between.certs.length;
  for (const c of between.certs) {
    list.appendChild(
      h(
        "li",
        {},
        h("div", {}, c.program, " · ", t("hours.amount", { n: c.hours }), ` · ${fmtDate(c.issued_at)}`),
        h("div", { class: "row" }, c.revoked ? h("span", { class: "tag" }, t("cert.revoked")) : h("a", { class: "btn primary", href: downloadUrl(`/certificates/${c.id}/pdf`), download: "" }, t("cert.download")), h("span", { class: "muted" }, t("cert.code", { code: c.code }))),
      ),
    );
  }
}
