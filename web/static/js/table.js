// The attribute table (issue 7): one layer's rows in the drawer at the bottom of the map,
// paged by the server (GET api/layers/<name>/rows), so that nothing loads all 59,377 people.
//
// Sort by a column (click its header; again: descending; a third time: unsorted), filter by
// column (table_filters.js), only the rows in the map's view (bbox) or only the selected ones
// (ids=), page through them. The map follows the table's filter: every change of conditions
// goes to app.setFilter(layer, wheres); the table follows the workbench's "filter" and
// "selection" events (selected rows are highlighted). A row's click (or Enter) focuses the map
// on the feature. Incidents get quick filters: the last 7/30/90 days or a custom range, kind,
// status. People are rows only for the admin and grid workers; other roles get a note that
// they are figures (api/figures/register).
//
// Opened from the map's "属性表 / Table" control (#table-toggle) or a layer row's table button
// in the panel ([data-table-open="<layer>"]). Hooks for tests: #table-drawer with
// data-table-layer, data-state (loading | ready | error), data-matched, data-offset, data-query (the
// last rows request's query); #table-layer (the layer list), [data-sort="<column>"] headers,
// [data-filter*="<column>"] inputs, #table-in-view, #table-selected, [data-page="first|prev|
// next|last"], #table-page-size, #table-range, #table-people-note, tbody tr[data-id].
// The drawer's elements, the control and the cells' text are table_drawer.js's; what it shows
// of a page (headers, rows, range, options, quick filters) is table_view.js's.

/* global L */
import { apiFetch, describeError } from "./api.js";
import { t } from "./i18n.js";
import { addControl, addPanelButtons, buildDrawer, place, relabelDrawer } from "./table_drawer.js";
import { emptyState, sameWheres, stateOf, wheresOf } from "./table_filters.js";
import { markSelected, placed, renderExtra, renderHead, renderOptions, renderQuick, renderRows, renderSortMarks } from "./table_view.js";

/** The columns of a layer as served (from /api/workspace), until a page brings the server's. */
function metaColumns(meta) {
  return (meta.columns || []).map((c) => ({ ...c, filterable: meta.read !== "masked" || !c.personal }));
}

export class AttributeTable {
  constructor(app) {
    this.app = app;
    this.ws = app.ws;
    this.layers = this.ws.layers.filter((l) => l.name);
    this.meta = new Map(this.layers.map((l) => [l.name, l]));
    this.states = new Map(); // layer -> {filter state, sort, offset, inView, selectedOnly, columns}
    this.pageSize = 100;
    this.layer = this.meta.has("grids") ? "grids" : this.layers[0]?.name || null;
    this.page = null; // the last rows reply
    this.seq = 0;
    this.current = null; // id of the row last focused on the map
    // people as figures: the register's rows are not served to this role
    this.peopleHidden = this.ws.role !== "anonymous" && !this.meta.has("people");
    this.root = app.slots.table;
    buildDrawer(this);
    addControl(this);
    addPanelButtons(this);
    app.on("filter", (e) => this.onFilter(e.detail));
    app.on("selection", () => this.onSelection());
    app.on("language", () => this.relabel());
    app.map.on("moveend", () => this.onMove());
  }

  state(layer = this.layer) {
    if (!this.states.has(layer)) {
      const columns = metaColumns(this.meta.get(layer));
      this.states.set(layer, { ...stateOf(this.app.filter(layer), columns), sort: null, offset: 0, inView: false, selectedOnly: false, columns });
    }
    return this.states.get(layer);
  }

  isOpen() {
    return !this.root.hidden;
  }

  open(layer = this.layer) {
    if (layer && this.meta.has(layer)) this.layer = layer;
    this.root.hidden = false;
    place(this);
    this.toggle?.setAttribute("aria-pressed", "true");
    this.show(this.layer, { force: true });
    this.relabel();
  }

  close() {
    this.root.hidden = true;
    this.toggle?.setAttribute("aria-pressed", "false");
    this.seq += 1; // a page still on its way is not shown
    if (this.root.contains(document.activeElement)) this.toggle?.focus();
  }

  show(layer, { force = false } = {}) {
    if (!layer || !this.meta.has(layer)) {
      this.renderEmpty();
      return;
    }
    const changed = layer !== this.layer || force;
    this.layer = layer;
    this.picker.value = layer;
    this.root.dataset.tableLayer = layer;
    // why the people are figures only: said beside the households, not on every table
    if (this.peopleNote) this.peopleNote.hidden = !(this.peopleHidden && layer === "households");
    const s = this.state();
    if (!sameWheres(wheresOf(s, s.columns), this.app.filter(layer))) this.adopt(this.app.filter(layer));
    if (changed) {
      this.page = null;
      renderHead(this);
      renderQuick(this);
      renderOptions(this);
    }
    this.load();
  }

  renderEmpty() {
    this.head.replaceChildren();
    this.body.replaceChildren();
    this.range.textContent = "";
    this.root.dataset.state = "ready";
  }

  // ---- state changes ----
  adopt(wheres) {
    const s = this.state();
    Object.assign(s, stateOf(wheres, s.columns, s.range));
    s.offset = 0;
  }

  wheres() {
    const s = this.state();
    return wheresOf(s, s.columns);
  }

  /** Conditions changed here: the map follows, the first page of the new rows is shown. */
  changed() {
    const s = this.state();
    s.offset = 0;
    const wheres = this.wheres();
    if (!sameWheres(wheres, this.app.filter(this.layer))) this.app.setFilter(this.layer, wheres);
    renderQuick(this);
    renderExtra(this);
    this.load();
  }

  clearFilters() {
    const s = this.state();
    Object.assign(s, emptyState());
    renderHead(this);
    this.changed();
  }

  setOption(key, on) {
    const s = this.state();
    s[key] = on;
    s.offset = 0;
    this.load();
  }

  onFilter({ layer, wheres }) {
    if (!this.meta.has(layer)) return;
    const s = this.state(layer);
    if (sameWheres(wheresOf(s, s.columns), wheres)) return;
    if (layer !== this.layer) {
      Object.assign(s, stateOf(wheres, s.columns, s.range), { offset: 0 });
      return;
    }
    this.adopt(wheres);
    if (!this.isOpen()) return;
    renderHead(this);
    renderQuick(this);
    this.load();
  }

  onSelection() {
    const s = this.state();
    const reload = s.selectedOnly;
    if (s.selectedOnly && !this.app.selected(this.layer).length) s.selectedOnly = false;
    renderOptions(this);
    if (!this.isOpen()) return;
    if (reload) {
      s.offset = 0;
      this.load();
    } else markSelected(this);
  }

  onMove() {
    if (!this.isOpen() || !this.state().inView) return;
    clearTimeout(this.moveTimer);
    this.moveTimer = setTimeout(() => {
      this.state().offset = 0;
      this.load();
    }, 250);
  }

  turn(where) {
    const s = this.state();
    const matched = this.page?.numberMatched ?? 0;
    const last = Math.max(0, Math.floor((matched - 1) / this.pageSize) * this.pageSize);
    const to = { first: 0, prev: Math.max(0, s.offset - this.pageSize), next: Math.min(last, s.offset + this.pageSize), last }[where];
    if (to === s.offset) return;
    s.offset = to;
    this.load();
  }

  sortBy(column) {
    const s = this.state();
    if (!s.sort || s.sort.column !== column) s.sort = { column, desc: false };
    else if (!s.sort.desc) s.sort = { column, desc: true };
    else s.sort = null;
    s.offset = 0;
    renderSortMarks(this);
    this.load();
  }

  // ---- the server ----
  query({ column = null, limit = null } = {}) {
    const s = this.state();
    const params = new URLSearchParams();
    for (const w of this.wheres()) {
      if (column && w.startsWith(column) && /^[~<>=]/.test(w.slice(column.length))) continue; // a list of a column's values ignores its own conditions
      params.append("where", w);
    }
    if (s.inView && placed(this.meta.get(this.layer))) {
      const b = this.app.map.getBounds();
      params.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(","));
    }
    if (s.selectedOnly) params.set("ids", this.app.selected(this.layer).join(",") || "0");
    if (column) {
      params.set("column", column);
      if (limit) params.set("limit", String(limit));
      return params;
    }
    if (s.sort) params.set("sort", `${s.sort.desc ? "-" : ""}${s.sort.column}`);
    params.set("limit", String(this.pageSize));
    params.set("offset", String(s.offset));
    return params;
  }

  async load() {
    if (!this.isOpen() || !this.layer) return;
    const layer = this.layer;
    const params = this.query();
    // a reply that is no longer the newest is dropped when it comes (not aborted: the
    // request is cheap, and an aborted fetch reads as a failed one)
    const seq = ++this.seq;
    this.root.dataset.state = "loading";
    this.root.setAttribute("aria-busy", "true");
    try {
      const resp = await apiFetch(`api/layers/${encodeURIComponent(layer)}/rows?${params}`);
      const page = await resp.json();
      if (seq !== this.seq) return;
      this.page = page;
      const s = this.state(layer);
      const before = JSON.stringify(s.columns.map((c) => [c.name, c.filterable]));
      s.columns = page.columns;
      if (JSON.stringify(page.columns.map((c) => [c.name, c.filterable])) !== before) renderHead(this);
      renderRows(this);
      this.root.dataset.matched = String(page.numberMatched);
      this.root.dataset.offset = String(page.offset);
      this.root.dataset.query = params.toString();
      this.root.dataset.state = "ready";
      this.note.textContent = "";
      this.note.classList.remove("error");
      renderExtra(this);
    } catch (err) {
      if (seq !== this.seq) return;
      this.root.dataset.state = "error";
      this.note.classList.add("error");
      this.note.textContent = t("table.error", { msg: describeError(err) });
    } finally {
      if (seq === this.seq) this.root.removeAttribute("aria-busy");
    }
  }

  /** The distinct values of `column` among the rows the other conditions keep. */
  async values(column, limit = 200) {
    const params = this.query({ column: column.name, limit });
    const resp = await apiFetch(`api/layers/${encodeURIComponent(this.layer)}/values?${params}`);
    return (await resp.json()).values;
  }

  // ---- what the drawer shows (table_view.js) ----
  columns() {
    return this.state().columns;
  }

  relabel() {
    relabelDrawer(this);
    if (this.isOpen() && this.layer) {
      renderHead(this);
      renderQuick(this);
      renderOptions(this);
      if (this.page) renderRows(this);
    }
  }

  // ---- rows and the map ----
  async focusRow(tr) {
    // a stored id is a number, a masked reader's opaque id is text: keep it as served
    const id = /^\d+$/.test(tr.dataset.id) ? Number(tr.dataset.id) : tr.dataset.id;
    const bbox = tr.dataset.bbox ? tr.dataset.bbox.split(",").map(Number) : undefined;
    this.current = id;
    markSelected(this);
    tr.focus({ preventScroll: true });
    let shown = false;
    try {
      shown = await this.app.focus({ layer: this.layer, id, bbox });
    } catch (err) {
      this.note.textContent = describeError(err);
      return;
    }
    if (shown) this.openPopup(this.layer, id);
    if (bbox) this.revealAbove(bbox);
  }

  /**
   * Open the feature's popup when the map's focus did not (its click does not reach the layer
   * group that holds the popup: map.js fires it without propagation). Nothing when one is open.
   */
  openPopup(layer, id) {
    if (this.app.map.getContainer().querySelector(".leaflet-popup")) return;
    const group = window.gridmap?.layers?.[layer];
    let found = null;
    group?.eachLayer((l) => {
      if (!found && l.feature && String(l.feature.id) === String(id)) found = l;
    });
    if (!found) return;
    const map = this.app.map;
    const at = found.getLatLng ? found.getLatLng() : found.getCenter();
    found.fire("click", { latlng: at, layerPoint: map.latLngToLayerPoint(at), containerPoint: map.latLngToContainerPoint(at) }, true);
  }

  /** Pan the map so that the focused feature is not hidden under the drawer. */
  revealAbove(bbox) {
    const map = this.app.map;
    const at = L.latLng((bbox[1] + bbox[3]) / 2, (bbox[0] + bbox[2]) / 2);
    const p = map.latLngToContainerPoint(at);
    const box = map.getContainer().getBoundingClientRect();
    const free = this.root.getBoundingClientRect().top - box.top;
    if (p.y > free - 40) map.panBy([0, p.y - free / 2], { animate: false });
  }

  onRowKey(e) {
    const tr = e.target.closest("tr[data-id]");
    if (!tr) return;
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      this.focusRow(tr);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const next = e.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
      next?.focus();
    } else if (e.key === "PageDown" || e.key === "PageUp") {
      e.preventDefault();
      this.turn(e.key === "PageDown" ? "next" : "prev");
    }
  }
}

export function install(app) {
  if (!app.slots.table) return;
  const table = new AttributeTable(app);
  table.relabel();
}
