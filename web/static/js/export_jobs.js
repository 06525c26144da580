// The jobs API as the download menu uses it (download.js): start an export job, follow it,
// cancel it, fetch its file and hand it to the browser's downloads under the server's name
// (Content-Disposition: RFC 5987 `filename*`, else `filename`). Requests that change
// something carry the session's CSRF token (renewed once when the session changed).

import { HttpError } from "./api.js";

export const FINISHED = new Set(["done", "failed", "cancelled"]);

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function apiUrl(path) {
  return new URL(path, document.baseURI).toString();
}

/** The `error` member of an error reply in the server's shape, or null. */
async function errorOf(resp) {
  try {
    const error = (await resp.json())?.error;
    return error && typeof error === "object" && typeof error.code === "string" ? error : null;
  } catch {
    return null; // not JSON: a proxy's page, say
  }
}

let csrfToken = null;

/** The CSRF token a signed-in page sends with requests that change something. */
async function csrf(renew = false) {
  if (csrfToken && !renew) return csrfToken;
  const resp = await fetch(apiUrl("api/session"), { headers: { Accept: "application/json" } });
  if (!resp.ok) throw new HttpError(resp.url, resp.status, await errorOf(resp));
  csrfToken = (await resp.json()).csrf_token;
  return csrfToken;
}

/** A request to the jobs API; one that changes something carries the CSRF token. */
export async function request(method, path, body, retried = false) {
  const url = apiUrl(path);
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = await csrf(retried);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.ok) return resp;
  const error = await errorOf(resp);
  if (error?.code === "csrf_failed" && !retried) return request(method, path, body, true); // a new session
  throw new HttpError(url, resp.status, error);
}

export async function requestJSON(method, path, body) {
  return (await request(method, path, body)).json();
}

export function startJob(spec) {
  return requestJSON("POST", "api/jobs", spec);
}

/** The file name in a Content-Disposition header (`filename*=UTF-8''…` or `filename="…"`). */
function attachmentName(header) {
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

/** Fetch a finished job's file and hand it to the browser's downloads. */
export async function saveResult(job, name, format) {
  const resp = await request("GET", job.result);
  const blob = await resp.blob();
  const fallback = job.filename || `${name}.${format === "shp" ? "zip" : format}`;
  const filename = attachmentName(resp.headers.get("Content-Disposition")) || fallback;
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
  // the server keeps the file an hour; this page has it now: let the server forget it
  request("DELETE", job.url).catch(() => {});
  return filename;
}
