// @ts-check
// Renders /api/v1/openapi.json as a readable page. Text only: every value goes through textContent.
"use strict";

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function schemaText(schema) {
  return JSON.stringify(schema, null, 2);
}

// The success answer: its schema (a shared component is named and shown one level deep), the
// example, and where a 201 puts the created resource (Location).
function addSuccess(card, status, answer, schemas) {
  const json = answer.content && answer.content["application/json"];
  if (json) {
    const ref = json.schema.$ref ? json.schema.$ref.split("/").pop() : "";
    card.appendChild(el("h3", `响应 Response ${status}${ref ? " · " + ref : ""}`));
    card.appendChild(el("pre", schemaText(ref ? schemas[ref] : json.schema)));
    if (json.example !== undefined) {
      card.appendChild(el("h3", "示例 Example"));
      card.appendChild(el("pre", schemaText(json.example)));
    }
  }
  if (answer.headers && answer.headers.Location) {
    card.appendChild(el("p", "Location: " + answer.headers.Location.description));
  }
}

async function render() {
  // docs.html has these
  const target = /** @type {HTMLElement} */ (document.getElementById("api"));
  const toc = /** @type {HTMLElement} */ (document.getElementById("toc"));
  const response = await fetch("/api/v1/openapi.json");
  const doc = await response.json();
  /** @type {HTMLElement} */ (document.getElementById("intro")).textContent = doc.info.description;
  target.textContent = "";
  const byTag = new Map();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  }
  const tocList = el("ul");
  for (const [tag, ops] of byTag) {
    const link = el("a", tag);
    link.href = "#tag-" + tag;
    const li = el("li");
    li.appendChild(link);
    tocList.appendChild(li);
    const section = el("section");
    section.id = "tag-" + tag;
    section.appendChild(el("h2", tag));
    for (const { path, method, op } of ops) {
      const card = el("details", undefined, "op");
      const summary = el("summary");
      summary.appendChild(el("span", method.toUpperCase(), "method " + method));
      summary.appendChild(el("code", path));
      summary.appendChild(el("span", " " + op.summary));
      card.appendChild(summary);
      card.appendChild(el("p", "角色 Roles: " + (op["x-allowed-roles"] || []).join(", ")));
      if (op.parameters) {
        const list = el("ul");
        for (const p of op.parameters) {
          list.appendChild(el("li", `${p.name} (${p.in}${p.required ? ", required" : ""}): ${p.description || ""} ${JSON.stringify(p.schema)}`));
        }
        card.appendChild(el("h3", "参数 Parameters"));
        card.appendChild(list);
      }
      if (op.requestBody) {
        card.appendChild(el("h3", "请求体 Body"));
        for (const [media, body] of Object.entries(op.requestBody.content)) {
          card.appendChild(el("p", media));
          card.appendChild(el("pre", schemaText(body.schema)));
        }
      }
      const codes = Object.keys(op.responses).join(", ");
      card.appendChild(el("p", "响应 Responses: " + codes));
      const ok = Object.entries(op.responses).find(([status]) => status.startsWith("2"));
      if (ok) addSuccess(card, ok[0], ok[1], doc.components.schemas || {});
      section.appendChild(card);
    }
    target.appendChild(section);
  }
  toc.appendChild(tocList);
}

render().catch((err) => {
  /** @type {HTMLElement} */ (document.getElementById("api")).textContent = "无法加载接口文档 Cannot load the API document: " + err;
});
