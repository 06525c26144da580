// The jobs API as the download menu uses it (download.js): start an export job, follow it,
// cancel it, fetch its file and hand it to the browser's downloads under the server's name
// (Content-Disposition: RFC 5987 `filename*`, else `filename`: api.js's attachmentName).
// Requests that change something carry the session's CSRF token (renewed once when the
// session changed). The print tool (print.js) follows its jobs at the same pace (POLL_MS).

import { HttpError, attachmentName } from "./api.js";
import { saveFile } from "./dom.js";

/** The states a job ends in. */
export const FINISHED = new Set(["done", "failed", "cancelled"]);

/** Milliseconds between two questions about a job: quick at first, then calmer. */
export const POLL_MS = [300, 500, 800, 1000];

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

/** Fetch a finished job's file and hand it to the browser's downloads. */
export async function saveResult(job, name, format) {
  const resp = await request("GET", job.result);
  const blob = await resp.blob();
  const fallback = job.filename || `${name}.${format === "shp" ? "zip" : format}`;
  const filename = attachmentName(resp.headers.get("Content-Disposition")) || fallback;
  saveFile(blob, filename);
  // the server keeps the file an hour; this page has it now: let the server forget it
  request("DELETE", job.url).catch(() => {});
  return filename;
}
