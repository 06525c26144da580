// Downloading a layer as a file: a small button on each row of the layer panel opens a menu
// that asks what to export and in which format (a table without geometry has no GeoJSON or
// Shapefile). What to export: the whole layer, only the current view (layers placed on the
// map: by their own geometry, or, like people, through their household's), the current
// filter of the workbench (`app.filter(layer)`), the selection (`app.selected(layer)`, or the
// grids selected: `app.selectedGrids()`), chosen grids (a picker of grid codes and names), or,
// for a grid worker, their register in one step ("my register": their grids). Each choice
// says how many rows it gives (a `limit=0` request to api/layers answers numberMatched)
// before anything is downloaded. Column titles, values and notes of Excel and CSV files, and
// the file's name, follow the UI language. The server masks personal data and refuses a
// filter by what the reader's view leaves out.
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
// #export-menu[data-export-menu="<layer>"], [data-export-format="xlsx"] items,
// [data-export-scope="all|view|filter|selection|grids|mine"] radios (the view's also carries
// [data-export-bbox]), [data-export-count="<scope>"] their row counts (data-count once known),
// #export-grid-picker with [data-export-grid="<code>"] checkboxes and #export-grid-search,
// [data-export-msg="<layer>"] row messages, in them [data-export-progress="<layer>"] (a
// <progress>) and [data-export-cancel="<layer>"] buttons; the row's data-export-job is the
// job's id while it runs.

import { HttpError, describeError, getJSON } from "./api.js";
import { h } from "./dom.js";
import { FINISHED, POLL_MS, request, requestJSON, saveResult, sleep, startJob } from "./export_jobs.js";
import { formatNumber, getLang, onLangChange, pick, t } from "./i18n.js";
import { unplaced } from "./panel.js";

/** Milliseconds the grid picker waits after a change before it counts the rows again. */
const COUNT_DELAY_MS = 250;

/** Export formats in menu order; `table`: also offered for layers without geometry. */
export const FORMATS = [
  { id: "xlsx", ext: ".xlsx", table: true },
  { id: "csv", ext: ".csv", table: true },
  { id: "geojson", ext: ".geojson", table: false },
  { id: "gpkg", ext: ".gpkg", table: true },
  { id: "shp", ext: ".zip", table: false },
];

/** What a menu can export, in menu order. */
export const SCOPES = ["all", "mine", "view", "filter", "selection", "grids"];

const ICON =
  '<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><path d="M7 1.75v7.1M4 6 7 9l3-3M2.25 10v2.25h9.5V10" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round"/></svg>';

export function formatsFor(meta) {
  return FORMATS.filter((f) => meta.geometry || f.table);
}

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
      if (this.current) this.render();
    });
  }

  /** Follow the workbench: an open menu shows the filter and selection as they are now. */
  attach(app) {
    this.app = app;
    const again = () => {
      if (this.current) this.render();
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

  // ---- what to export ----

  /** The grid worker's grids (empty for other roles). */
  myGrids() {
    if (this.ws.role !== "grid_worker") return [];
    return [...(this.ws.grids?.length ? this.ws.grids : this.app?.session?.grids || [])];
  }

  /** The choices the layer offers now, each with the request parameters it stands for. */
  scopesFor(meta) {
    const out = [{ id: "all", params: {} }];
    const mine = this.myGrids();
    if (mine.length) out.push({ id: "mine", params: { grids: mine }, count: mine.length });
    if (meta.geometry || meta.located_by) out.push({ id: "view", params: { bbox: this.hooks.viewBbox() } });
    const wheres = this.app ? this.app.filter(meta.name) : [];
    if (wheres.length) out.push({ id: "filter", params: { where: wheres }, wheres });
    const ids = this.app ? this.app.selected(meta.name) : [];
    const selectedGrids = this.app ? this.app.selectedGrids() : [];
    if (ids.length) out.push({ id: "selection", params: { ids }, n: ids.length });
    else if (selectedGrids.length) out.push({ id: "selection", params: { grids: selectedGrids }, grids: selectedGrids });
    out.push({ id: "grids", params: { grids: [...this.picked] } });
    return out;
  }

  scopeLabel(scope) {
    if (scope.id === "mine") return t("export.scope.mine", { n: scope.count });
    if (scope.id === "filter") return t("export.scope.filter", { n: scope.wheres.length });
    if (scope.id === "selection") {
      return scope.grids ? t("export.scope.selection_grids", { n: scope.grids.length }) : t("export.scope.selection", { n: scope.n });
    }
    if (scope.id === "view") return t("export.view");
    return t(`export.scope.${scope.id}`);
  }

  render() {
    const { meta } = this.layers.get(this.current);
    this.root.dataset.exportMenu = meta.name;
    const kicker = h("div", { class: "export-menu-kicker", text: t("export.heading") });
    const title = h("div", { class: "export-menu-title", text: pick(meta.title, meta.name) });
    title.id = "export-menu-title";
    const parts = [kicker, title];

    const scopes = this.scopesFor(meta);
    if (!scopes.some((sc) => sc.id === this.scope)) this.scope = scopes.some((sc) => sc.id === "mine") ? "mine" : "all";
    const group = h("div", { class: "export-scopes" });
    group.setAttribute("role", "radiogroup");
    group.setAttribute("aria-label", t("export.scope.heading"));
    group.append(h("div", { class: "export-scopes-heading", text: t("export.scope.heading") }));
    for (const scope of scopes) {
      const box = h("input");
      box.type = "radio";
      box.name = "export-scope";
      box.value = scope.id;
      box.dataset.exportScope = scope.id;
      if (scope.id === "view") box.dataset.exportBbox = "";
      box.checked = scope.id === this.scope;
      box.addEventListener("change", () => {
        if (!box.checked) return;
        this.scope = scope.id;
        this.showPicker();
      });
      const label = h("label", { class: "export-view export-scope" });
      if (scope.id === "view") label.title = t("export.view.title");
      if (scope.id === "filter") label.title = scope.wheres.join(" · ");
      const count = h("span", { class: "export-count" });
      count.dataset.exportCount = scope.id;
      label.append(box, h("span", { class: "export-scope-name", text: this.scopeLabel(scope) }), count);
      group.append(label);
      if (scope.id !== "grids") this.showCount(meta, scope, count);
      else this.countGrids(meta, count);
    }
    parts.push(group);
    this.picker = this.gridPicker(meta);
    parts.push(this.picker);

    const list = h("ul", { class: "export-formats" });
    for (const f of formatsFor(meta)) {
      const item = h("button", { class: "export-format" });
      item.type = "button";
      item.dataset.exportFormat = f.id;
      item.append(h("span", { class: "export-format-name", text: t(`export.format.${f.id}`) }), h("span", { class: "export-format-ext", text: f.ext }));
      item.addEventListener("click", () => this.choose(meta.name, f.id));
      const li = h("li");
      li.append(item);
      list.append(li);
    }
    parts.push(list);

    // A table placed through another layer (people by household), or a layer whose masked
    // view leaves its place out (visits): each says what "the whole table" means for it.
    const placeNote = meta.geometry ? null : unplaced(meta) ? "export.unplaced_note" : "export.table_note";
    const notes = [placeNote && t(placeNote), t("export.lang_note"), t("export.scope.name_note")];
    // The masked view leaves names and phones out (it does not star them out).
    if (meta.read === "masked" && meta.columns.some((c) => c.personal)) notes.push(t("export.masked_view"));
    const foot = h("div", { class: "export-notes" });
    for (const n of notes.filter(Boolean)) foot.append(h("p", { text: n }));
    parts.push(foot);
    this.root.replaceChildren(...parts);
    this.showPicker();
  }

  /** The grid picker: a search box and a checkbox per grid (code and name). */
  gridPicker(meta) {
    const box = h("div", { class: "export-grid-picker" });
    box.id = "export-grid-picker";
    const search = h("input", { class: "export-grid-search" });
    search.id = "export-grid-search";
    search.type = "search";
    search.placeholder = t("export.grids.search");
    search.setAttribute("aria-label", t("export.grids.search"));
    const list = h("div", { class: "export-grid-list" });
    list.setAttribute("role", "group");
    list.setAttribute("aria-label", t("export.scope.grids"));
    const fill = () => {
      const word = search.value.trim().toLowerCase();
      list.replaceChildren();
      for (const g of this.gridList || []) {
        if (word && !`${g.code} ${g.name}`.toLowerCase().includes(word)) continue;
        const check = h("input");
        check.type = "checkbox";
        check.dataset.exportGrid = g.code;
        check.checked = this.picked.has(g.code);
        check.addEventListener("change", () => {
          if (check.checked) this.picked.add(g.code);
          else this.picked.delete(g.code);
          const radio = this.root.querySelector('[data-export-scope="grids"]');
          if (radio && !radio.checked) {
            radio.checked = true;
            this.scope = "grids";
          }
          this.countGrids(meta, this.root.querySelector('[data-export-count="grids"]'), COUNT_DELAY_MS);
        });
        const row = h("label", { class: "export-grid" });
        row.append(check, h("span", { class: "export-grid-code", text: g.code }), h("span", { class: "export-grid-name", text: g.name || "" }));
        list.append(row);
      }
      if (this.gridList && !list.childElementCount) list.append(h("div", { class: "export-grid-none", text: t("export.grids.none") }));
    };
    search.addEventListener("input", fill);
    box.append(search, list);
    if (this.gridList) fill();
    else {
      list.append(h("div", { class: "export-grid-none", text: t("export.grids.loading") }));
      this.loadGrids().then(fill, (err) => list.replaceChildren(h("div", { class: "export-grid-none", text: describeError(err) })));
    }
    return box;
  }

  showPicker() {
    if (this.picker) this.picker.hidden = this.scope !== "grids";
    this.place();
  }

  async loadGrids() {
    if (!this.gridList) {
      const fc = await getJSON("api/layers/grids");
      this.gridList = (fc.features || [])
        .map((f) => ({ code: String(f.properties.code), name: f.properties.name || "" }))
        .sort((a, b) => a.code.localeCompare(b.code));
    }
    return this.gridList;
  }

  /** The rows a choice gives, from the server (`limit=0`: numberMatched), shown in `target`. */
  showCount(meta, scope, target) {
    const query = countQuery(scope.params);
    const key = `${meta.name}?${query}`;
    if (!this.counts.has(key)) {
      const url = `api/layers/${encodeURIComponent(meta.name)}?limit=0${query ? `&${query}` : ""}`;
      this.counts.set(
        key,
        getJSON(url).then((fc) => fc.numberMatched).catch((err) => {
          this.counts.delete(key);
          throw err;
        }),
      );
    }
    target.textContent = "…";
    delete target.dataset.count;
    this.counts.get(key).then(
      (n) => {
        target.dataset.count = String(n);
        target.textContent = t("export.rows", { n: formatNumber(n) });
      },
      () => {
        target.textContent = "";
      },
    );
  }

  countGrids(meta, target, delay = 0) {
    if (!target) return;
    clearTimeout(this.countTimer);
    if (!this.picked.size) {
      target.textContent = t("export.grids.pick");
      delete target.dataset.count;
      return;
    }
    target.textContent = "…";
    this.countTimer = setTimeout(() => this.showCount(meta, { params: { grids: [...this.picked] } }, target), delay);
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
    const scope = this.scopesFor(s.meta).find((sc) => sc.id === this.scope) || { params: {} };
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

/** The query of a count request: where (one per condition), grids, ids, bbox. */
function countQuery(params) {
  const q = new URLSearchParams();
  for (const w of params.where || []) q.append("where", w);
  if (params.grids?.length) q.set("grids", params.grids.join(","));
  if (params.ids?.length) q.set("ids", params.ids.join(","));
  if (params.bbox) q.set("bbox", params.bbox);
  return q.toString();
}

/** The members of a job body for a choice: only those it has. */
function jobParams(params) {
  const out = {};
  if (params.where?.length) out.where = params.where;
  if (params.grids?.length) out.grids = params.grids;
  if (params.ids?.length) out.ids = params.ids;
  if (params.bbox) out.bbox = params.bbox;
  return out;
}
