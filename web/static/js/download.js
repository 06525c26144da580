// Downloading a layer as a file: a small button on each row of the layer panel opens a menu
// that asks what to export and in which format (export_choices.js draws it: the choices of
// what, with their row counts, and the formats). Column titles, values and notes of Excel and
// CSV files, and the file's name, follow the UI language. The server masks personal data and
// refuses a filter by what the reader's view leaves out.
//
// The server prepares the file as a background job (POST api/jobs): the layer's row shows its
// progress as a bar and the server's words for the step it is at, with a button that cancels
// it; once the job is done the file is fetched and handed to the browser's downloads, named
// by the server (layer, area, date, language).
//
// The menu is made by map.js (the panel's rows need their buttons before the workbench is
// built) and gets the workbench through the plugin mechanism: `install(app)` (plugins.js).
//
// Hooks for tests: [data-export="<layer>"] buttons (aria-busy while a file is prepared),
// #export-menu[data-export-menu="<layer>"] (its content: export_choices.js),
// [data-export-msg="<layer>"] row messages, in them [data-export-progress="<layer>"] (a
// <progress>) and [data-export-cancel="<layer>"] buttons; the row's data-export-job is the
// job's id while it runs.

import { HttpError, describeError } from "./api.js";
import { h } from "./dom.js";
import { jobParams, renderMenu, scopesFor } from "./export_choices.js";
import { FINISHED, POLL_MS, request, requestJSON, saveResult, sleep, startJob } from "./export_jobs.js";
import { getLang, onLangChange, pick, t } from "./i18n.js";

const ICON =
  '<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><path d="M7 1.75v7.1M4 6 7 9l3-3M2.25 10v2.25h9.5V10" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round"/></svg>';

/** The menus made on this page: the plugin hands each the workbench. */
const menus = new Set();

/** The workbench tool: the download menus follow its filters and selection (plugins.js). */
export function install(app) {
  for (const menu of menus) menu.attach(app);
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
    this.app = null; // the workbench, once the plugins are installed
    this.layers = new Map(); // name -> {meta, button, msg, busy, format, error}
    // what the last file was of: the next menu starts there (a grid worker: their register)
    this.scope = ws.role === "grid_worker" && ws.grids?.length ? "mine" : "all";
    this.picked = new Set(); // grid codes chosen in the picker
    this.gridList = null; // [{code, name}] of the grids layer, once fetched
    this.counts = new Map(); // request query -> Promise<number>
    this.countTimer = null;
    this.current = null; // name of the layer whose menu is open
    this.root = h("div", { class: "export-menu card" });
    this.root.id = "export-menu";
    this.root.hidden = true;
    this.root.setAttribute("role", "dialog");
    this.root.setAttribute("aria-labelledby", "export-menu-title");
    document.body.append(this.root);
    menus.add(this);

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
      if (this.current) renderMenu(this);
    });
  }

  /** Follow the workbench: an open menu shows the filter and selection as they are now. */
  attach(app) {
    this.app = app;
    const again = () => {
      if (this.current) renderMenu(this);
    };
    app.on("filter", again);
    app.on("selection", again);
  }

  /** The row controls of one layer: its download button and its message line. */
  controls(meta) {
    const button = h("button", { class: "btn-export" });
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
    const msg = h("div", { class: "export-msg" });
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
      const label = h("span", { class: "export-job-text" });
      const bar = h("progress", { class: "export-job-bar" });
      bar.max = 1;
      bar.dataset.exportProgress = name;
      const cancel = h("button", { class: "export-job-cancel" });
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
    renderMenu(this);
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

  /** Beside the panel, level with the layer's button, inside the window. */
  place() {
    if (!this.current) return;
    const b = this.buttonOf(this.current).getBoundingClientRect();
    const w = this.root.offsetWidth;
    const height = this.root.offsetHeight;
    const left = Math.max(8, Math.min(this.hooks.anchorLeft() + 8, window.innerWidth - w - 8));
    const top = Math.max(8, Math.min(b.top - 10, window.innerHeight - height - 8));
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
    if (e.target?.type === "radio") return; // the radios' own arrow keys move the choice
    const items = [...this.root.querySelectorAll("input:not([type=radio]), input[type=radio]:checked, button")].filter(
      (x) => x.offsetParent !== null,
    );
    const i = items.indexOf(document.activeElement);
    const next = items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length];
    e.preventDefault();
    next.focus();
  }

  async choose(name, format) {
    const s = this.layers.get(name);
    const scope = scopesFor(this, s.meta).find((sc) => sc.id === this.scope) || { params: {} };
    if (scope.id === "grids" && !this.picked.size) {
      this.root.querySelector("#export-grid-search")?.focus();
      return; // nothing chosen yet: the picker says so
    }
    this.close();
    Object.assign(s, { busy: true, format, error: null, job: null, cancelling: false, cancelled: false });
    this.relabel(name);
    try {
      let job = await startJob({ kind: "export", layer: name, format, lang: getLang(), ...jobParams(scope.params) });
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
