// @ts-check
// #/codes: personal codes in bulk (a unit, a site, everyone) printed as slips, each with the
// trainee's name, unit, code and a QR of the sign-in link; or saved as a workbook.
// The codes exist in clear only in this answer: the page says so, and offers print and XLSX.
// Every batch issued while the page is open stays on it (issuing for a second unit does not
// hide the first): print or save one batch, or all; a trainee issued again keeps only the new
// slip (the old code stopped working).
import { h, clear, $ } from "/static/shared/dom.js";
import { t, addMessages, getLang } from "/static/shared/i18n.js";
import { api } from "/static/shared/api.js";
import { qrSvg } from "/static/shared/qr.js";
import { act, askInline, field, flash, fmtTime } from "./ui.js";
import { listAll, treeOrder } from "./manage.js";
import { saveBlob } from "./panel.js";

addMessages({
  zh: {
    "nav.codes": "个人码",
    "codes.heading": "批量发放个人码",
    "codes.intro": "为一个单位（含下级单位）、一个课堂（含下属课堂）或全体学员发放个人码，打印成凭条发给学员。学员用手机扫描凭条上的二维码即可登录。",
    "codes.scope": "发放范围",
    "codes.byUnit": "按单位",
    "codes.bySite": "按课堂",
    "codes.everyone": "全体学员",
    "codes.unit": "单位",
    "codes.site": "课堂",
    "codes.onlyMissing": "只发给还没有个人码的学员（已发凭条继续有效）",
    "codes.warning": "重新发放后，范围内学员原来的个人码立即失效。",
    "codes.confirm": "将为所选范围内的学员重新发放个人码，原来的个人码会失效。继续吗？",
    "codes.confirmYes": "确认发放",
    "codes.issue": "发放个人码",
    "codes.done": "已为 {n} 名学员发放个人码。个人码只显示这一次，请立即打印凭条或下载 Excel。",
    "codes.none": "所选范围内没有需要发放个人码的学员。",
    "codes.print": "打印凭条",
    "codes.xlsx": "下载 Excel",
    "codes.slipTitle": "学员登录凭条",
    "codes.code": "个人码",
    "codes.staffLine": "工号：{no}",
    "codes.scan": "用手机相机扫描二维码即可登录；也可打开 {url} 输入个人码。",
    "codes.keep": "个人码仅限本人使用，请妥善保管。",
    "codes.qrLabel": "{name} 的登录二维码",
    "codes.slips": "凭条（{n} 张）",
    "codes.kept": "本页保留打开后发放的全部凭条：{k} 批，共 {n} 张（刷新页面后不再显示）。",
    "codes.printAll": "打印全部凭条",
    "codes.xlsxAll": "全部下载 Excel",
    "codes.batch": "{scope} · {n} 张 · {time} 发放",
    "codes.printBatch": "只打印这一批",
    "codes.xlsxBatch": "下载这一批 Excel",
    "codes.replaced": "{n} 张之前显示的凭条已作废（这些学员刚刚重新发放），已从本页移除。",
  },
  en: {
    "nav.codes": "Codes",
    "codes.heading": "Issue personal codes in bulk",
    "codes.intro": "Issue personal codes to an org unit (with its sub-units), a site (with its rooms) or every trainee, and print them as slips. A trainee scans the slip's QR code with a phone and is signed in.",
    "codes.scope": "Who gets codes",
    "codes.byUnit": "An org unit",
    "codes.bySite": "A site",
    "codes.everyone": "Every trainee",
    "codes.unit": "Org unit",
    "codes.site": "Site",
    "codes.onlyMissing": "Only trainees without a code (slips already handed out keep working)",
    "codes.warning": "Issuing again makes the trainees' previous codes stop working at once.",
    "codes.confirm": "New codes replace the previous codes of these trainees. Continue?",
    "codes.confirmYes": "Yes, issue",
    "codes.issue": "Issue codes",
    "codes.done": "Codes issued to {n} trainees. They are shown only this once: print the slips or download the workbook now.",
    "codes.none": "Nobody in this scope needs a code.",
    "codes.print": "Print slips",
    "codes.xlsx": "Download Excel",
    "codes.slipTitle": "Trainee sign-in slip",
    "codes.code": "Personal code",
    "codes.staffLine": "Staff no.: {no}",
    "codes.scan": "Scan the QR code with your phone's camera to sign in, or open {url} and type the code.",
    "codes.keep": "This code is yours alone; keep it safe.",
    "codes.qrLabel": "Sign-in QR code of {name}",
    "codes.slips": "Slips ({n})",
    "codes.kept": "This page keeps every batch issued since it was opened: {k} batches, {n} slips (reloading the page clears them).",
    "codes.printAll": "Print all slips",
    "codes.xlsxAll": "Download all as Excel",
    "codes.batch": "{scope} · {n} slips · issued {time}",
    "codes.printBatch": "Print this batch only",
    "codes.xlsxBatch": "Download this batch as Excel",
    "codes.replaced": "{n} slips shown before stopped working (those trainees were just issued new codes) and were removed from the page.",
  },
});

// The batches issued stay on this page while it is open (a language switch redraws the page),
// newest first; they are never stored: reloading the page loses them, as "shown once" means.
/** @type {{id: number, scope: string, name: string, at: string, items: any[]}[]} */
let issued = [];
let nextBatch = 1;

/**
 * A new batch on the page; a trainee in it leaves the older batches (the old code stopped
 * working). How many older slips went.
 * @param {{scope: string, name: string, items: any[]}} batch
 */
function keep(batch) {
  const fresh = new Set(batch.items.map((i) => i.trainee_id));
  let gone = 0;
  for (const old of issued) {
    const left = old.items.filter((i) => !fresh.has(i.trainee_id));
    gone += old.items.length - left.length;
    old.items = left;
  }
  issued = [{ ...batch, id: nextBatch++, at: new Date().toISOString() }, ...issued.filter((b) => b.items.length)];
  return gone;
}

function slip(item) {
  const url = `${window.location.origin}/trainee/`;
  return h(
    "article",
    { class: "slip", "data-trainee-id": String(item.trainee_id) },
    h("p", { class: "slip-title" }, t("codes.slipTitle")),
    h(
      "div",
      { class: "slip-body" },
      h(
        "div",
        { class: "slip-who" },
        h("p", { class: "slip-name" }, item.name),
        h("p", {}, item.org_unit, item.site ? ` · ${item.site}` : ""),
        h("p", { class: "slip-staff" }, t("codes.staffLine", { no: item.staff_no })),
        h("p", { class: "slip-code-label" }, t("codes.code")),
        h("p", { class: "slip-code" }, item.code),
      ),
      h("a", { href: item.link, class: "slip-qr", "aria-label": t("codes.qrLabel", { name: item.name }) }, qrSvg(item.link, t("codes.qrLabel", { name: item.name }))),
    ),
    h("p", { class: "slip-help" }, t("codes.scan", { url }), " ", t("codes.keep")),
  );
}

export async function codesView(root) {
  const [units, sites] = await Promise.all([listAll("org-units"), listAll("sites")]);
  const options = (items) => treeOrder(items).map(({ item, depth }) => h("option", { value: String(item.id) }, `${"\u3000".repeat(depth)}${item.name}`));
  const unit = h("select", { id: "codes-unit", name: "org_unit_id" }, options(units));
  const site = h("select", { id: "codes-site", name: "site_id" }, options(sites));
  const scopes = ["unit", "site", "everyone"];
  const radios = scopes.map((s) => h("input", { type: "radio", name: "codes-scope", id: `codes-scope-${s}`, value: s, checked: s === "unit" }));
  const onlyMissing = h("input", { type: "checkbox", id: "codes-only-missing" });
  const out = h("div", { id: "codes-result" });
  const chosenScope = () => (radios.find((r) => r.checked) || radios[0]).value; // one is always checked
  const sync = () => {
    const chosen = chosenScope();
    unit.disabled = chosen !== "unit";
    site.disabled = chosen !== "site";
  };
  for (const r of radios) r.addEventListener("change", sync);
  sync();

  const confirmBox = h("div", { id: "codes-confirm" });

  async function issue(ev) {
    ev.preventDefault();
    const chosen = chosenScope();
    const body = { base_url: window.location.origin, only_missing: onlyMissing.checked };
    const picked = (select) => (select.selectedOptions[0] ? select.selectedOptions[0].textContent.trim() : "");
    let name = "";
    if (chosen === "unit") [body.org_unit_id, name] = [Number(unit.value), picked(unit)];
    else if (chosen === "site") [body.site_id, name] = [Number(site.value), picked(site)];
    else body.everyone = true;
    const go = (button) =>
      act(button, async () => {
        const answer = await api.post("/join-codes", body);
        clear(confirmBox);
        if (!answer.items.length) {
          show(false, 0);
          return;
        }
        show(true, keep({ scope: chosen, name, items: answer.items }));
      });
    if (onlyMissing.checked) {
      await go(ev.submitter);
      return;
    }
    // Replacing codes is asked once more, on the page (slips already handed out stop working).
    askInline(confirmBox, t("codes.confirm"), t("codes.confirmYes"), go, { id: "codes-confirm-q" });
  }

  /** An Excel button for these slips. */
  function xlsxButton(items, label, id) {
    return h(
      "button",
      {
        type: "button",
        class: "secondary",
        id,
        onclick: (ev) =>
          act(ev.currentTarget, async () => {
            const blob = await api.postForFile("/join-codes/xlsx", { items, lang: getLang() });
            saveBlob(blob, getLang() === "zh" ? "个人码.xlsx" : "join-codes.xlsx");
          }),
      },
      label,
    );
  }

  /** Print every batch shown, or only one (the others hidden on paper while it prints). */
  function print(batchId) {
    const slips = $("#slips");
    slips.toggleAttribute("data-print-only", Boolean(batchId));
    for (const b of slips.querySelectorAll(".slip-batch")) b.toggleAttribute("data-print-this", b.getAttribute("data-batch") === String(batchId));
    window.print();
  }

  /**
   * Every batch issued while the page is open, newest first.
   * @param {boolean|null} fresh true: just issued; false: nobody needed a code (said so above the batches); null: a redraw
   * @param {number} replaced older slips removed because their trainees were issued again
   */
  function show(fresh, replaced) {
    clear(out);
    if (fresh === false) out.appendChild(h("p", { class: "note no-print", role: "status" }, t("codes.none")));
    if (!issued.length) return;
    const latest = issued[0];
    const total = issued.reduce((n, b) => n + b.items.length, 0);
    if (fresh) flash(t("codes.done", { n: latest.items.length }), "ok");
    const scopeText = (b) => (b.scope === "everyone" ? t("codes.everyone") : b.name);
    out.append(
      h(
        "div",
        { class: "panel no-print", role: "alert" },
        h("p", { class: "ok-note" }, t("codes.done", { n: latest.items.length })),
        replaced ? h("p", { class: "note", id: "codes-replaced" }, t("codes.replaced", { n: replaced })) : null,
        issued.length > 1 ? h("p", { class: "note", id: "codes-kept" }, t("codes.kept", { k: issued.length, n: total })) : null,
        h(
          "div",
          { class: "row-actions" },
          h("button", { type: "button", class: "primary", id: "codes-print", onclick: () => print(0) }, issued.length > 1 ? t("codes.printAll") : t("codes.print")),
          xlsxButton(issued.flatMap((b) => b.items), issued.length > 1 ? t("codes.xlsxAll") : t("codes.xlsx"), "codes-xlsx"),
        ),
      ),
      h("h2", { class: "no-print" }, t("codes.slips", { n: total })),
      h(
        "div",
        { id: "slips" },
        issued.map((b) =>
          h(
            "section",
            { class: "slip-batch", "data-batch": String(b.id) },
            h("h3", { class: "no-print" }, t("codes.batch", { scope: scopeText(b), n: b.items.length, time: fmtTime(b.at) })),
            issued.length > 1
              ? h(
                  "div",
                  { class: "row-actions no-print" },
                  h("button", { type: "button", class: "secondary", onclick: () => print(b.id) }, t("codes.printBatch")),
                  xlsxButton(b.items, t("codes.xlsxBatch"), null),
                )
              : null,
            h("div", { class: "slips" }, b.items.map(slip)),
          ),
        ),
      ),
    );
  }

  root.append(
    h(
      "section",
      { class: "panel no-print" },
      h("h1", {}, t("codes.heading")),
      h("p", { class: "note" }, t("codes.intro")),
      h(
        "form",
        { id: "codes-form", onsubmit: issue },
        h(
          "fieldset",
          { class: "scope" },
          h("legend", {}, t("codes.scope")),
          h("div", { class: "toolbar" }, h("label", { class: "check", for: radios[0].id }, radios[0], t("codes.byUnit")), field(t("codes.unit"), unit)),
          h("div", { class: "toolbar" }, h("label", { class: "check", for: radios[1].id }, radios[1], t("codes.bySite")), field(t("codes.site"), site)),
          h("div", { class: "toolbar" }, h("label", { class: "check", for: radios[2].id }, radios[2], t("codes.everyone"))),
        ),
        h("p", {}, h("label", { class: "check", for: onlyMissing.id }, onlyMissing, t("codes.onlyMissing"))),
        h("p", { class: "note" }, t("codes.warning")),
        h("button", { type: "submit", class: "primary", id: "codes-issue" }, t("codes.issue")),
        confirmBox,
      ),
    ),
    out,
  );
  if (issued.length) show(null, 0);
  return null;
}
