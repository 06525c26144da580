// The map workbench's shared state and the one way its tools talk to each other.
//
// map.js makes one Workbench when the map is built and hands it to every tool listed in
// plugins.js (`tool.install(app)`); the tools (chooser, search, table, export, print…) never
// reach into each other. What they share:
//
//   app.map, app.ws (the /api/workspace document), app.session, app.panel, app.t(key, vars)
//   app.slots: {search, detail, table} — the page's empty elements a tool may fill
//     (#search-slot at the top of the panel, #detail-card at the right, #table-drawer below)
//
//   Selection: features picked by the user, by layer; a selected grid also selects what it holds
//     app.select(layer, ids, {grids, source})  replace the selection (ids: feature ids)
//     app.clearSelection()
//     app.selected(layer) -> [ids];  app.selectedLayers() -> [names];  app.selectedGrids() -> [codes]
//     event "selection" {detail: {layers, grids, source}}
//
//   Filters: per layer, a list of conditions in the API's `where` syntax ("kind=burglary",
//   "occurred_at>=2026-01-01", "name~江", "status=open,closed"); the map draws only what passes,
//   the table lists it, the export menu offers it
//     app.setFilter(layer, wheres)  ([] or null clears);  app.filter(layer) -> [wheres]
//     app.filterParams(layer) -> URLSearchParams with one `where` per condition
//     event "filter" {detail: {layer, wheres}}
//
//   Focus: show one feature — fit the map to it, draw its layer, highlight it, open its popup
//     await app.focus({layer, id, bbox?: [minlon, minlat, maxlon, maxlat], lon?, lat?})
//     the map registers the implementation with app.provide("focus", fn)
//
//   Popup actions: buttons a tool adds to the popups of a layer's features
//     app.addPopupAction(layer, {id, label: () => text, run: (feature) => …, when?: (feature) => bool})
//     app.popupActions(layer, feature) -> the actions to show (the popup renderer asks)
//
//   Mode: a tool that takes over the map's clicks (grid planning) says so; the chooser then
//   opens no popup on a click
//     app.setMode(name | null);  app.mode -> the name, or null when the map is browsed
//     event "mode" {detail: {mode}}
//
//   app.on(type, fn) / app.off(type, fn): the events above, plus "language" when it changes
//
// A tool's strings go in web/static/i18n/tools/<tool>.json ({"zh-CN": {…}, "en": {…}}, merged
// into the dictionaries) and its styles in web/static/css/tools/<tool>.css: the page loads both.

/** The DOM elements tools may fill. */
function slots() {
  return {
    search: document.getElementById("search-slot"),
    detail: document.getElementById("detail-card"),
    table: document.getElementById("table-drawer"),
  };
}

export class Workbench extends EventTarget {
  constructor({ map, ws, session, panel, t }) {
    super();
    this.map = map;
    this.ws = ws;
    this.session = session;
    this.panel = panel;
    this.t = t;
    this.slots = slots();
    this._selection = new Map(); // layer -> Set(ids)
    this._grids = [];
    this._filters = new Map(); // layer -> [wheres]
    this._provided = new Map();
    this._actions = new Map(); // layer -> [actions]
    this.mode = null;
  }

  // ---- mode ----
  setMode(name) {
    const mode = name || null;
    if (mode === this.mode) return;
    this.mode = mode;
    this.emit("mode", { mode });
  }

  // ---- popup actions ----
  addPopupAction(layer, action) {
    if (!this._actions.has(layer)) this._actions.set(layer, []);
    this._actions.get(layer).push(action);
  }

  popupActions(layer, feature) {
    return (this._actions.get(layer) || []).filter((a) => !a.when || a.when(feature));
  }

  // ---- events ----
  on(type, fn) {
    this.addEventListener(type, fn);
    return this;
  }

  off(type, fn) {
    this.removeEventListener(type, fn);
    return this;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ---- selection ----
  select(layer, ids, { grids = [], source = "map", also = {} } = {}) {
    this._selection = new Map();
    if (layer) this._selection.set(layer, new Set(ids || []));
    for (const [name, more] of Object.entries(also)) this._selection.set(name, new Set(more));
    this._grids = [...grids];
    this.emit("selection", { layers: this.selectedLayers(), grids: this.selectedGrids(), source });
  }

  clearSelection({ source = "map" } = {}) {
    if (!this._selection.size && !this._grids.length) return;
    this._selection = new Map();
    this._grids = [];
    this.emit("selection", { layers: [], grids: [], source });
  }

  selected(layer) {
    return [...(this._selection.get(layer) || [])];
  }

  selectedLayers() {
    return [...this._selection.entries()].filter(([, ids]) => ids.size).map(([name]) => name);
  }

  selectedGrids() {
    return [...this._grids];
  }

  // ---- filters ----
  setFilter(layer, wheres) {
    const list = (wheres || []).filter((w) => typeof w === "string" && w.length);
    if (list.length) this._filters.set(layer, list);
    else this._filters.delete(layer);
    this.emit("filter", { layer, wheres: this.filter(layer) });
  }

  filter(layer) {
    return [...(this._filters.get(layer) || [])];
  }

  filteredLayers() {
    return [...this._filters.keys()];
  }

  filterParams(layer) {
    const params = new URLSearchParams();
    for (const w of this.filter(layer)) params.append("where", w);
    return params;
  }

  // ---- services the map provides ----
  provide(name, fn) {
    this._provided.set(name, fn);
  }

  async focus(target) {
    const fn = this._provided.get("focus");
    if (!fn) throw new Error("the map cannot focus features yet");
    return fn(target);
  }
}
