// Downloading a layer as a file: a small button on each row of the layer panel opens a menu of
// the formats that layer can be exported in (a table without geometry has no GeoJSON or
// Shapefile), with "only the current view" for layers placed on the map (by their own geometry,
// or, like people, through their household's). Column titles of Excel
// and CSV files follow the UI language. The server masks personal data.
//
// The server prepares the file as a background job (POST api/jobs): the layer's row shows its
// progress and the server's words for the step it is at, with a button that cancels it; once
// the job is done the file is fetched and handed to the browser's downloads.
//
// Hooks for tests: [data-export="<layer>"] buttons (aria-busy while a file is prepared),
// #export-menu[data-export-menu="<layer>"], [data-export-format="xlsx"] items,
// [data-export-bbox] checkbox, [data-export-msg="<layer>"] row messages, in them
// [data-export-progress="<layer>"] (a <progress>) and [data-export-cancel="<layer>"] buttons;
// the row's data-export-job is the job's id while it runs.

import { HttpError, describeError } from "./api.js";
import { getLang, onLangChange, pick, t } from "./i18n.js";
import { unplaced } from "./panel.js";

/** Milliseconds between two questions about a job: quick at first, then calmer. */
const POLL_MS = [300, 500, 800, 1000];

/** Export formats in menu order; `table`: also offered for layers without geometry. */
export const FORMATS = [
  { id: "xlsx", ext: ".xlsx", table: true },
  { id: "csv", ext: ".csv", table: true },
  { id: "geojson", ext: ".geojson", table: false },
  { id: "gpkg", ext: ".gpkg", table: true },
  { id: "shp", ext: ".zip", table: false },
];


const ICON =
  '<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><path d="M7 1.75v7.1M4 6 7 9l3-3M2.25 10v2.25h9.5V10" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round"/></svg>';

export function formatsFor(meta) {
  return FORMATS.filter((f) => meta.geometry || f.table);
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class ExportMenu {
  /**
   * @param {object} ws the workspace from /api/workspace
   * @param {{viewBbox: () => string, anchorLeft: () => number}} hooks the map's current bounds as
   *   "minlon,minlat,maxlon,maxlat"; the x where the menu may start (right of the panel)
   */
  constructor(ws, hooks) {
    this.ws = ws;
    this.hooks = hooks;
    this.layers = new Map(); // name -> {meta, button, msg, busy, format, error}
    this.onlyView = false;
    this.current = null; // name of the layer whose menu is open
    this.root = el("div", "export-menu card");
    this.root.id = "export-menu";
    this.root.hidden = true;
    this.root.setAttribute("role", "dialog");
    this.root.setAttribute("aria-labelledby", "export-menu-title");
    document.body.append(this.root);

    document.addEventListener("pointerdown", (e) => {
      if (this.current && !this.root.contains(e.target) && !this.buttonOf(this.current)?.contains(e.target)) this.close();
    });
    this.root.addEventListener("keydown", (e) => this.onKey(e));
    this.root.addEventListener("focusout", (e) => {
      if (this.current && e.relatedTarget && !this.root.contains(e.relatedTarget)) this.close();
    });
    window.addEventListener("resize", () => this.place());
    onLangChange(() => {
      for (const name of this.layers.keys()) this.relabel(name);
      if (this.current) this.render();
    });
  }

  /** The row controls of one layer: its download button and its message line. */
  controls(meta) {
    const button = el("button", "btn-export");
    button.type = "button";
    button.dataset.export = meta.name;
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", "export-menu");
    button.innerHTML = ICON; // static markup
    button.addEventListener("click", () => {
      if (button.getAttribute("aria-disabled") === "true") return; // busy with this layer's file
      return this.current === meta.name ? this.close() : this.open(meta.name);
    });
    const msg = el("div", "export-msg");
    msg.dataset.exportMsg = meta.name;
    msg.setAttribute("role", "status");
    this.layers.set(meta.name, {
      meta,
      button,
      msg,
      busy: false,
      format: null,
      error: null,
      job: null, // the server's job document while the file is prepared
      cancelling: false,
      cancelled: false,
      parts: null,
    });
    this.relabel(meta.name);
    return [button, msg];
  }

  buttonOf(name) {
    return this.layers.get(name)?.button;
  }

  relabel(name) {
    const s = this.layers.get(name);
    const layer = pick(s.meta.title, name);
    const label = s.busy ? t("export.busy", { layer }) : t("export.button", { layer });
    s.button.title = label;
    s.button.setAttribute("aria-label", label);
    s.button.toggleAttribute("aria-busy", s.busy);
    // aria-disabled, not disabled: a disabled button would drop keyboard focus to the page
    s.button.setAttribute("aria-disabled", String(Boolean(s.busy)));
    s.msg.classList.toggle("error", Boolean(s.error));
    if (s.busy) this.showProgress(name);
    // said in the current language, so a language switch relabels the message as well
    else if (s.error) s.msg.textContent = t("export.error", { msg: describeError(s.error) });
    else if (s.cancelled) s.msg.textContent = t("export.job.cancelled");
    else s.msg.replaceChildren();
  }

  /** The row's message while its file is prepared: the step, a progress bar, a cancel button. */
  showProgress(name) {
    const s = this.layers.get(name);
    const format = t(`export.format.${s.format}`);
    const job = s.job;
    let text;
    if (!job) text = t("export.preparing", { format });
    else if (s.cancelling || job.cancel_requested) text = t("export.job.cancelling");
    else if (job.state === "queued") text = t("export.job.queued", { format });
    else {
      const step = job.message?.[getLang()] ?? job.message?.en ?? "";
      text = t("export.job.running", { format, percent: Math.round((job.progress || 0) * 100), step });
    }
    if (!s.parts) {
      const label = el("span", "export-job-text");
      const bar = el("progress", "export-job-bar");
      bar.max = 1;
      bar.dataset.exportProgress = name;
      const cancel = el("button", "export-job-cancel");
      cancel.type = "button";
      cancel.dataset.exportCancel = name;
      cancel.addEventListener("click", () => this.cancel(name));
      s.parts = { label, bar, cancel };
    }
    const { label, bar, cancel } = s.parts;
    label.textContent = text;
    bar.value = job?.progress || 0;
    bar.setAttribute("aria-label", t("export.job.progress", { layer: pick(s.meta.title, name) }));
    cancel.textContent = t("export.job.cancel");
    cancel.title = t("export.job.cancel.title");
    cancel.disabled = !job || Boolean(s.cancelling);
    if (s.msg.firstChild !== label) s.msg.replaceChildren(label, " ", bar, " ", cancel);
  }

  open(name) {
    if (this.current) this.close({ focus: false });
    this.current = name;
    this.render();
    this.root.hidden = false;
    this.buttonOf(name).setAttribute("aria-expanded", "true");
    this.place();
    this.root.querySelector("[data-export-format]").focus({ preventScroll: true });
  }

  close({ focus = true } = {}) {
    if (!this.current) return;
    const button = this.buttonOf(this.current);
    this.current = null;
    this.root.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focus && this.root.contains(document.activeElement)) button.focus({ preventScroll: true });
  }

  render() {
    const { meta } = this.layers.get(this.current);
    this.root.dataset.exportMenu = meta.name;
    const kicker = el("div", "export-menu-kicker", t("export.heading"));
    const title = el("div", "export-menu-title", pick(meta.title, meta.name));
    title.id = "export-menu-title";
    const parts = [kicker, title];

    if (meta.geometry || meta.located_by) {
      const box = el("input");
      box.type = "checkbox";
      box.dataset.exportBbox = "";
      box.checked = this.onlyView;
      box.addEventListener("change", () => {
        this.onlyView = box.checked;
      });
      const label = el("label", "export-view");
      label.title = t("export.view.title");
      label.append(box, el("span", "", t("export.view")));
      parts.push(label);
    }

    const list = el("ul", "export-formats");
    for (const f of formatsFor(meta)) {
      const item = el("button", "export-format");
      item.type = "button";
      item.dataset.exportFormat = f.id;
      item.append(el("span", "export-format-name", t(`export.format.${f.id}`)), el("span", "export-format-ext", f.ext));
      item.addEventListener("click", () => this.choose(meta.name, f.id));
      const li = el("li");
      li.append(item);
      list.append(li);
    }
    parts.push(list);

    // A table placed through another layer (people by household), or a layer whose masked
    // view leaves its place out (visits): each says what "the whole table" means for it.
    const placeNote = meta.geometry ? null : unplaced(meta) ? "export.unplaced_note" : "export.table_note";
    const notes = [placeNote && t(placeNote), t("export.lang_note")];
    // The masked view leaves names and phones out (it does not star them out).
    if (meta.read === "masked" && meta.columns.some((c) => c.personal)) notes.push(t("export.masked_view"));
    const foot = el("div", "export-notes");
    for (const n of notes.filter(Boolean)) foot.append(el("p", "", n));
    parts.push(foot);
    this.root.replaceChildren(...parts);
  }

  /** Beside the panel, level with the layer's button, inside the window. */
  place() {
    if (!this.current) return;
    const b = this.buttonOf(this.current).getBoundingClientRect();
    const w = this.root.offsetWidth;
    const h = this.root.offsetHeight;
    const left = Math.max(8, Math.min(this.hooks.anchorLeft() + 8, window.innerWidth - w - 8));
    const top = Math.max(8, Math.min(b.top - 10, window.innerHeight - h - 8));
    this.root.style.left = `${Math.round(left)}px`;
    this.root.style.top = `${Math.round(top)}px`;
  }

  onKey(e) {
    if (e.key === "Escape") {
      e.preventDefault();
      this.close();
      return;
    }
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const items = [...this.root.querySelectorAll("input, button")];
    const i = items.indexOf(document.activeElement);
    const next = items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length];
    e.preventDefault();
    next.focus();
  }

  async choose(name, format) {
    const s = this.layers.get(name);
    const placed = s.meta.geometry || s.meta.located_by;
    const bbox = placed && this.onlyView ? this.hooks.viewBbox() : undefined;
    this.close();
    Object.assign(s, { busy: true, format, error: null, job: null, cancelling: false, cancelled: false });
    this.relabel(name);
    try {
      let job = await startJob({ kind: "export", layer: name, format, lang: getLang(), bbox });
      s.job = job;
      s.msg.dataset.exportJob = job.id;
      this.relabel(name);
      for (let i = 0; !FINISHED.has(job.state); i++) {
        await sleep(POLL_MS[Math.min(i, POLL_MS.length - 1)]);
        job = await requestJSON("GET", job.url);
        s.job = job;
        this.relabel(name);
      }
      if (job.state === "done") await saveResult(job, name, format);
      else if (job.state === "cancelled") s.cancelled = true;
      else s.error = new HttpError(job.url, job.error?.status ?? 500, job.error);
    } catch (err) {
      s.error = err; // an HttpError with the server's code, or a TypeError when it is unreachable
    } finally {
      delete s.msg.dataset.exportJob;
      Object.assign(s, { busy: false, job: null, cancelling: false });
      this.relabel(name);
    }
  }

  /** Ask the server to stop preparing the layer's file; the polling sees it end. */
  async cancel(name) {
    const s = this.layers.get(name);
    if (!s.job || s.cancelling) return;
    s.cancelling = true;
    this.relabel(name);
    try {
      const resp = await request("DELETE", s.job.url);
      if (resp.status !== 204) s.job = await resp.json();
    } catch (err) {
      s.cancelling = false;
      s.error = err;
    }
    if (s.busy) this.relabel(name);
  }
}

const FINISHED = new Set(["done", "failed", "cancelled"]);

function sleep(ms) {
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
async function request(method, path, body, retried = false) {
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

async function requestJSON(method, path, body) {
  return (await request(method, path, body)).json();
}

function startJob(spec) {
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
async function saveResult(job, name, format) {
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
