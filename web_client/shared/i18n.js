// zh-CN first, English on request. Messages are plain text, inserted with textContent.

const messages = { zh: {}, en: {} };
const LANGS = ["zh", "en"];

export function addMessages(table) {
  for (const lang of Object.keys(table || {})) {
    if (!messages[lang]) messages[lang] = {};
    Object.assign(messages[lang], table[lang]);
  }
}

export function getLang() {
  let stored = null;
  try {
    stored = window.localStorage.getItem("lang");
  } catch (_err) {
    stored = null;
  }
  return LANGS.includes(stored) ? stored : "zh";
}

export function t(key, vars = {}) {
  const lang = getLang();
  let text = messages[lang] && messages[lang][key];
  if (text === undefined) text = messages.zh[key];
  if (text === undefined) text = messages.en[key];
  if (text === undefined) text = key;
  return String(text).replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole,
  );
}

export function applyI18n(root = document) {
  const html = root === document ? document.documentElement : null;
  if (html) html.lang = getLang() === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]"))
    node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  for (const node of root.querySelectorAll("[data-i18n-label]"))
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  for (const node of root.querySelectorAll("[data-i18n-title]"))
    node.setAttribute("title", t(node.dataset.i18nTitle));
}

export function setLang(lang) {
  if (!LANGS.includes(lang)) lang = "zh";
  try {
    window.localStorage.setItem("lang", lang);
  } catch (_err) {
    /* private mode: the choice lasts for this page only */
  }
  applyI18n(document);
  window.dispatchEvent(new CustomEvent("langchange", { detail: { lang } }));
}

export function langSwitch() {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "lang-switch";
  const label = () => {
    const zh = getLang() === "zh";
    button.textContent = zh ? "English" : "中文";
    button.setAttribute("lang", zh ? "en" : "zh-CN");
    button.setAttribute("aria-label", zh ? "Switch to English" : "切换到中文");
  };
  label();
  button.addEventListener("click", () => setLang(getLang() === "zh" ? "en" : "zh"));
  window.addEventListener("langchange", label);
  return button;
}

addMessages({
  zh: {
    "err.network.unreachable": "无法连接服务器，请检查网络后重试。",
    "err.auth.required": "请先登录。",
    "err.auth.forbidden": "您没有权限执行此操作。",
    "err.auth.bad_join_code": "个人码无效，请向培训办核实。",
    "err.auth.bad_site_secret": "课堂密钥无效，请向操作员索取新的密钥。",
    "err.auth.bad_credentials": "用户名或密码错误。",
    "err.auth.csrf_failed": "登录状态已过期，请刷新页面后重试。",
    "err.generic": "操作失败：{message}",
    "err.server": "服务器暂时无法处理（{status}），请稍后重试。",
  },
  en: {
    "err.network.unreachable": "Cannot reach the server; check the network and try again.",
    "err.auth.required": "Please sign in first.",
    "err.auth.forbidden": "You are not allowed to do this.",
    "err.auth.bad_join_code": "This personal code is not valid. Check it with your training office.",
    "err.auth.bad_site_secret": "This classroom secret is not valid; ask the operator for a new one.",
    "err.auth.bad_credentials": "Wrong username or password.",
    "err.auth.csrf_failed": "Your sign-in has expired; reload the page and try again.",
    "err.generic": "Failed: {message}",
    "err.server": "The server cannot answer right now ({status}); try again shortly.",
  },
});
