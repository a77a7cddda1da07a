// @ts-check
// Small DOM helpers. Text is always inserted as text nodes; innerHTML is never used.

const BOOLEAN_ATTRS = new Set(["disabled", "checked", "selected", "hidden", "required", "readonly", "autofocus", "multiple", "open"]);

/**
 * An element with attributes (on* functions become listeners; class, value, checked, text and
 * the boolean attributes are set as properties) and children (nodes, text, arrays; null skipped).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class" || key === "className") {
      node.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : String(value);
    } else if (key === "value" && "value" in node) {
      node.value = String(value);
    } else if (key === "checked" && "checked" in node) {
      node.checked = Boolean(value);
    } else if (BOOLEAN_ATTRS.has(key)) {
      node.setAttribute(key, "");
      if (key in node) node[key] = true;
    } else if (key === "text") {
      node.textContent = String(value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === true) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(node) {
  while (node && node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

export function $$(sel, root = document) {
  return Array.from(root.querySelectorAll(sel));
}

/** Replace a node's children with the given ones. */
export function replace(node, ...children) {
  clear(node);
  append(node, children);
  return node;
}
