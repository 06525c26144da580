// Talking to the gridmap server. URLs are relative to the page, so the app works when it is
// mounted under a path prefix on the intranet server.

import { getLang, has, t } from "./i18n.js";

/**
 * A reply that was not OK. The server answers errors in one shape,
 * `{"error": {"code", "message", "status", ...}}`: `code` is a stable name (`workspace_busy`,
 * `invalid_input`, `not_found`, ...), `message` says what went wrong in the server's words.
 */
export class HttpError extends Error {
  constructor(url, status, error = null) {
    super(error?.message || `${url}: HTTP ${status}`);
    this.url = url;
    this.status = status;
    this.code = error?.code ?? null;
    this.retryAfter = error?.retry_after ?? null;
    this.error = error;
  }
}

/** The `error` member of an error reply in the server's shape, or null. */
async function errorOf(resp) {
  try {
    const body = await resp.json();
    const error = body?.error;
    return error && typeof error === "object" && typeof error.code === "string" ? error : null;
  } catch {
    return null; // not JSON: a proxy's page, say
  }
}

const HAN = /[\u4e00-\u9fff]/;

/**
 * One language of a bilingual server message. The server writes "English. (中文。)": the
 * English sentence, then the Chinese one in a closing pair of brackets. Returns the Chinese part
 * for a zh page, the English part otherwise; a message not of that form comes back as it is.
 * @param {string} message
 * @param {string} [lang] the page's language (default: getLang())
 */
export function oneLanguage(message, lang = getLang()) {
  const text = String(message ?? "").trim();
  if (!text.endsWith(")") && !text.endsWith("）")) return text;
  let depth = 0;
  for (let i = text.length - 1; i >= 0; i -= 1) {
    const c = text[i];
    if (c === ")" || c === "）") depth += 1;
    else if (c === "(" || c === "（") depth -= 1;
    if (depth === 0) {
      const zh = text.slice(i + 1, -1).trim();
      const en = text.slice(0, i).trim();
      if (!en || !HAN.test(zh)) return text;
      return lang === "zh-CN" ? zh : en;
    }
  }
  return text;
}

/**
 * What went wrong, in the page's language: the UI's sentence for a known error code (which may
 * quote the server's message, in the page's language only, as `{msg}`), else the server's own
 * message in the page's language.
 */
export function describeError(err) {
  // fetch rejects with a TypeError when the server cannot be reached at all
  if (err instanceof TypeError && has("error.offline")) return t("error.offline");
  const key = err?.code ? `error.code.${err.code}` : null;
  const msg = err?.message === undefined ? undefined : oneLanguage(err.message);
  if (key && has(key)) return t(key, { msg, seconds: err.retryAfter ?? "" });
  return msg ?? String(err);
}

/**
 * The server's own message about a refused request (400, 404, 409, 422: it says exactly what
 * was wrong), in the page's language; for other failures (offline, busy, a server fault) the
 * UI's sentence of describeError.
 */
export function refusalMessage(err) {
  const own = err instanceof HttpError && [400, 404, 409, 422].includes(err.status) && err.error?.message;
  return own ? oneLanguage(own) : describeError(err);
}

function apiUrl(path) {
  return new URL(path, document.baseURI).toString();
}

// ---- who is signed in, CSRF, a session that ended ----

let csrf = null;

/**
 * The CSRF token that every state-changing request of this browser session sends as
 * `X-CSRFToken`: from the page's `<meta name="csrf-token">`, else from `GET api/session`.
 */
export async function csrfToken() {
  if (csrf) return csrf;
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta?.content) {
    csrf = meta.content;
    return csrf;
  }
  const resp = await fetch(apiUrl("api/session"), { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!resp.ok) throw new HttpError(resp.url, resp.status, await errorOf(resp));
  csrf = (await resp.json()).csrf_token;
  return csrf;
}

/** The headers a state-changing request sends: `X-CSRFToken` and any `extra`. */
export async function writeHeaders(extra = {}) {
  return { ...extra, "X-CSRFToken": await csrfToken() };
}

/** The sign-in page's address that comes back to this page; `reason`: "expired" | "signin". */
export function signInUrl(reason = "signin") {
  const here = window.location.pathname + window.location.search;
  const params = new URLSearchParams({ next: here });
  if (reason) params.set("reason", reason);
  return apiUrl(`login?${params}`);
}

let leaving = false;

/**
 * A 401 from the server: the session ended (or nobody signed in): go to the sign-in page, which
 * says why and comes back here afterwards. Once only, however many requests fail together.
 */
function signInAgain() {
  if (leaving) return;
  leaving = true;
  const signedIn = Boolean(document.body?.dataset.user);
  window.location.assign(signInUrl(signedIn ? "expired" : "signin"));
}

/**
 * fetch() for the API: a state-changing method sends the CSRF token; a 401 sends the browser to
 * the sign-in page (and the promise rejects with the HttpError); other errors reject with it.
 * @param {string} path relative to the page
 * @param {RequestInit & {json?: any}} options `json`: a body sent as JSON
 * @returns {Promise<Response>}
 */
export async function apiFetch(path, options = {}) {
  const { json, headers = {}, ...rest } = options;
  const method = (rest.method || "GET").toUpperCase();
  const sent = { Accept: "application/json", ...headers };
  if (json !== undefined) sent["Content-Type"] = "application/json";
  const init = { ...rest, method, credentials: "same-origin", headers: method === "GET" || method === "HEAD" ? sent : await writeHeaders(sent) };
  if (json !== undefined) init.body = JSON.stringify(json);
  const url = apiUrl(path);
  const resp = await fetch(url, init);
  if (!resp.ok) {
    const error = new HttpError(url, resp.status, await errorOf(resp));
    if (resp.status === 401) signInAgain();
    throw error;
  }
  return resp;
}

/** Send `body` as JSON with `method` (POST, PUT, PATCH, DELETE); the reply's JSON, or null. */
export async function sendJSON(method, path, body = undefined) {
  const resp = await apiFetch(path, { method, json: body });
  if (resp.status === 204) return null;
  const type = resp.headers.get("Content-Type") || "";
  return type.includes("json") ? resp.json() : null;
}

export function postJSON(path, body) {
  return sendJSON("POST", path, body);
}

export async function getJSON(path) {
  const resp = await apiFetch(path);
  return resp.json();
}

/** Who is signed in: user, display_name, role, role_title, grids, csrf_token (api/session). */
export async function getSession() {
  const doc = await getJSON("api/session");
  if (doc?.csrf_token) csrf = doc.csrf_token;
  return doc;
}

export function getWorkspace() {
  return getJSON("api/workspace");
}

const layerCache = new Map();

/**
 * The whole of a layer as one GeoJSON FeatureCollection. Fetched once and shared (the workspace
 * basemap and the streets/buildings overlays draw the same data). Follows the server's paging
 * when it returns fewer features than numberMatched.
 */
export function loadLayer(name) {
  if (!layerCache.has(name)) {
    const promise = fetchWholeLayer(name).catch((err) => {
      layerCache.delete(name); // let a later attempt retry
      throw err;
    });
    layerCache.set(name, promise);
  }
  return layerCache.get(name);
}

async function fetchWholeLayer(name) {
  const base = `api/layers/${encodeURIComponent(name)}`;
  const first = await getJSON(base);
  const features = first.features || [];
  let matched = Number.isFinite(first.numberMatched) ? first.numberMatched : features.length;
  let pageSize = first.numberReturned || features.length;
  while (features.length < matched && pageSize > 0) {
    const page = await getJSON(`${base}?limit=${pageSize}&offset=${features.length}`);
    const got = page.features || [];
    if (!got.length) break;
    features.push(...got);
    if (Number.isFinite(page.numberMatched)) matched = page.numberMatched;
  }
  return { ...first, features, numberReturned: features.length };
}

/** The file name in a Content-Disposition header (`filename*=UTF-8''…` or `filename="…"`). */
export function attachmentName(header) {
  if (!header) return null;
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      /* fall through to the plain name */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(header);
  return plain ? plain[1].trim() : null;
}

/**
 * Download one layer as a file (GET api/layers/<name>/export) and hand it to the browser's
 * downloads. Fetched first rather than followed as a link, so that the page can say that the
 * file is being prepared (Excel files of big layers take a while) and show the server's message
 * when it fails instead of saving that message as the file.
 * @param {string} name layer name
 * @param {{format: string, lang: string, bbox?: string}} options
 * @returns {Promise<string>} the saved file's name
 */
export async function downloadExport(name, { format, lang, bbox }) {
  const params = new URLSearchParams({ format, lang });
  if (bbox) params.set("bbox", bbox);
  const resp = await apiFetch(`api/layers/${encodeURIComponent(name)}/export?${params}`, { headers: { Accept: "application/json, */*;q=0.5" } });
  const blob = await resp.blob();
  const filename = attachmentName(resp.headers.get("Content-Disposition")) || `${name}.${format === "shp" ? "zip" : format}`;
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
  return filename;
}
