// @ts-check
// The public certificate check: /verify/<code> reads GET /api/v1/verify?code=... and shows the
// masked name, the program, the hours and the date; an unknown code gets a clear message, a
// revoked certificate says it is no longer valid.
import { addMessages, applyI18n, langSwitch, t } from "../shared/i18n.js";
import { api, errorText, ApiError } from "../shared/api.js";
import { h, replace, $ } from "../shared/dom.js";

addMessages({
  zh: {
    "verify.title": "结业证书验证",
    "verify.heading": "证书信息",
    "verify.checking": "正在查询…",
    "verify.code": "验证码",
    "verify.submit": "查询",
    "verify.valid": "证书有效",
    "verify.revoked": "证书已撤销，不再有效",
    "verify.revokedOn": "撤销日期",
    "verify.unknown": "查无此证书。请核对证书上的 16 位验证码；如有疑问请联系颁证的培训办。",
    "verify.name": "姓名",
    "verify.program": "培训项目",
    "verify.hours": "学时",
    "verify.date": "颁发日期",
    "verify.empty": "请输入证书上的验证码。",
  },
  en: {
    "verify.title": "Certificate check",
    "verify.heading": "Certificate",
    "verify.checking": "Checking…",
    "verify.code": "Verification code",
    "verify.submit": "Check",
    "verify.valid": "This certificate is valid",
    "verify.revoked": "This certificate has been revoked and is no longer valid",
    "verify.revokedOn": "Revoked on",
    "verify.unknown": "No certificate has this code. Check the 16-character code on the certificate, or ask the training office that issued it.",
    "verify.name": "Name",
    "verify.program": "Program",
    "verify.hours": "Class hours",
    "verify.date": "Issued on",
    "verify.empty": "Type the verification code on the certificate.",
  },
});

function codeFromPath() {
  const parts = window.location.pathname.split("/").filter(Boolean);
  return parts.length >= 2 ? decodeURIComponent(parts[1]) : "";
}

let lastAnswer = null;

function show(answer) {
  lastAnswer = answer;
  const box = $("#result");
  if (!answer) return replace(box, h("p", { class: "muted" }, t("verify.empty")));
  if (answer.error) {
    const unknown = answer.error instanceof ApiError && answer.error.code === "certificate.unknown";
    return replace(box, h("p", { class: "verify-bad", role: "alert" }, unknown ? t("verify.unknown") : errorText(answer.error)));
  }
  const c = answer.body;
  const revoked = c.revoked || !c.valid;
  replace(
    box,
    h(
      "div",
      { class: revoked ? "verify-bad" : "verify-ok", role: revoked ? "alert" : null },
      h("p", { class: "big" }, revoked ? "✗ " + t("verify.revoked") : "✓ " + t("verify.valid")),
      h(
        "dl",
        { class: "verify-facts" },
        h("dt", {}, t("verify.name")), h("dd", { id: "verify-name" }, c.name),
        h("dt", {}, t("verify.program")), h("dd", {}, c.program),
        h("dt", {}, t("verify.hours")), h("dd", {}, String(c.hours)),
        h("dt", {}, t("verify.date")), h("dd", {}, c.issued_on),
        revoked && c.revoked_on ? [h("dt", {}, t("verify.revokedOn")), h("dd", { id: "verify-revoked-on" }, c.revoked_on)] : null,
        h("dt", {}, t("verify.code")), h("dd", {}, c.code),
      ),
    ),
  );
}

async function check(code) {
  if (!code.trim()) return show(null);
  replace($("#result"), h("p", { class: "muted" }, t("verify.checking")));
  try {
    show({ body: await api.get("/verify", { code: code.trim() }) });
  } catch (err) {
    show({ error: err });
  }
}

$("#lang-slot").appendChild(langSwitch());
applyI18n();
window.addEventListener("langchange", () => show(lastAnswer));
const fromPath = codeFromPath();
$("#verify-code").value = fromPath;
$("#verify-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const typed = $("#verify-code").value;
  window.history.replaceState(null, "", "/verify/" + encodeURIComponent(typed.trim()));
  check(typed);
});
check(fromPath);
