// @ts-check
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
  return stored !== null && LANGS.includes(stored) ? stored : "zh";
}

export function t(key, vars = {}) {
  const lang = getLang();
  let text = messages[lang] && messages[lang][key];
  if (text === undefined) text = messages.zh[key];
  if (text === undefined) text = messages.en[key];
  if (text === undefined) text = key;
  // English singular: "key.one" (if the table has it) when {n} is exactly 1.
  if (Number(vars.n) === 1 && messages[lang] && messages[lang][`${key}.one`] !== undefined) text = messages[lang][`${key}.one`];
  return String(text).replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : whole,
  );
}

/** Write every [data-i18n…] text of `root` in the current language. @param {Document | HTMLElement} [root] */
export function applyI18n(root = document) {
  const html = root === document ? document.documentElement : null;
  if (html) html.lang = getLang() === "zh" ? "zh-CN" : "en";
  /** @param {string} selector */
  const all = (selector) => /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll(selector));
  for (const node of all("[data-i18n]")) node.textContent = t(String(node.dataset.i18n));
  for (const node of all("[data-i18n-placeholder]")) node.setAttribute("placeholder", t(String(node.dataset.i18nPlaceholder)));
  for (const node of all("[data-i18n-label]")) node.setAttribute("aria-label", t(String(node.dataset.i18nLabel)));
  for (const node of all("[data-i18n-title]")) node.setAttribute("title", t(String(node.dataset.i18nTitle)));
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
    "err.generic": "操作失败：{message}",
    "err.server": "服务器暂时无法处理（{status}），请稍后重试。",
  },
  en: {
    "err.generic": "Failed: {message}",
    "err.server": "The server cannot answer right now ({status}); try again shortly.",
  },
});
