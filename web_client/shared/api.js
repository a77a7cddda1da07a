// @ts-check
// JSON calls to /api/v1 with the CSRF token from the sign-in cookie on every change.
import { t, getLang, addMessages } from "./i18n.js";
import "./errors.js";

addMessages({
  zh: { "err.page": "页面出错，请刷新后重试。", "err.unknown": "操作未成功（{code}），请稍后重试。" },
  en: { "err.page": "The page hit an error; reload it and try again.", "err.unknown": "Failed ({code}): {message}" },
});

const BASE = "/api/v1";
// A request that gets no answer (a cut network can stall a connection for minutes) is given up
// after this long and reported as network.unreachable, so that pages retry instead of hanging.
const TIMEOUT = 20000;
const UPLOAD_TIMEOUT = 180000;

export class ApiError extends Error {
  /**
   * @param {number} status the HTTP status (0: no answer)
   * @param {string} code the server's stable error code ("auth.forbidden"…)
   * @param {string} [message]
   * @param {any} [details]
   */
  constructor(status, code, message, details) {
    super(message || code);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.message = message || code;
    this.details = details;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

function buildUrl(path, query) {
  const url = new URL(BASE + path, window.location.origin);
  if (query) {
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null || value === "") continue;
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, String(v));
      else url.searchParams.set(key, String(value));
    }
  }
  return url.pathname + url.search;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {{query?: Record<string, any>, body?: any, form?: FormData, as?: string}} [options]
 */
async function request(method, path, { query, body, form, as } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    const csrf = cookie("classroom_csrf");
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  let payload;
  if (form !== undefined) payload = form;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), form !== undefined ? UPLOAD_TIMEOUT : TIMEOUT);
  let response;
  let data = null;
  try {
    response = await fetch(buildUrl(path, query), {
      method,
      headers,
      body: payload,
      credentials: "same-origin",
      cache: "no-store",
      signal: abort.signal,
    });
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") || "";
    if (as === "blob" && response.ok) {
      data = await response.blob();
    } else if (type.includes("application/json")) {
      try {
        data = await response.json();
      } catch (err) {
        if (abort.signal.aborted) throw err;
        data = null;
      }
    } else {
      data = await response.text();
    }
  } catch (err) {
    throw new ApiError(0, "network.unreachable", String(err instanceof Error && err.message ? err.message : err));
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    const error = data && typeof data === "object" && data.error ? data.error : null;
    throw new ApiError(
      response.status,
      error ? error.code : `http.${response.status}`,
      error ? error.message : response.statusText,
      error ? error.details : undefined,
    );
  }
  return data;
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, body) => request("POST", path, { body }),
  put: (path, body) => request("PUT", path, { body }),
  patch: (path, body) => request("PATCH", path, { body }),
  del: (path) => request("DELETE", path),
  upload: (path, formData) => request("POST", path, { form: formData }),
  /** POST JSON, answer a file (a Blob), e.g. a workbook made from what the page holds. */
  postForFile: (path, body) => request("POST", path, { body, as: "blob" }),
};

export function downloadUrl(path, query) {
  return buildUrl(path, query);
}

export function errorText(err) {
  if (err instanceof ApiError) {
    const key = "err." + err.code;
    const known = t(key, err.details && typeof err.details === "object" ? err.details : {});
    if (known !== key) return known;
    if (err.status >= 500 || err.status === 0) return t("err.server", { status: err.status });
    // A code this page does not know yet: a message by status, never the server's English in zh.
    const vars = { code: err.code, message: err.message };
    const byStatus = `err.status.${err.status}`;
    if (t(byStatus) !== byStatus) return t(byStatus, vars);
    return t("err.unknown", vars);
  }
  console.warn(err);
  return getLang() === "zh" ? t("err.page") : t("err.generic", { message: String(err && err.message ? err.message : err) });
}
