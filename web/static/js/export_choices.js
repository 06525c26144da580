// What the download menu (download.js) offers for a layer, drawn into #export-menu: what to
// export and in which format (a table without geometry has no GeoJSON or Shapefile). What to
// export: the whole layer, only the current view (layers placed on the map: by their own
// geometry, or, like people, through their household's), the current filter of the workbench
// (`app.filter(layer)`), the selection (`app.selected(layer)`, or the grids selected:
// `app.selectedGrids()`), chosen grids (a picker of grid codes and names), or, for a grid
// worker, their register in one step ("my register": their grids). Each choice says how many
// rows it gives (a `limit=0` request to api/layers answers numberMatched) before anything is
// downloaded. Functions of the ExportMenu they draw for (`menu`); choosing a format starts the
// menu's job (`menu.choose`).
//
// Hooks for tests: [data-export-format="xlsx"] items,
// [data-export-scope="all|view|filter|selection|grids|mine"] radios (the view's also carries
// [data-export-bbox]), [data-export-count="<scope>"] their row counts (data-count once known),
// #export-grid-picker with [data-export-grid="<code>"] checkboxes and #export-grid-search.

import { describeError, getJSON } from "./api.js";
import { h } from "./dom.js";
import { formatNumber, pick, t } from "./i18n.js";
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

/** The formats offered for a layer. */
export function formatsFor(meta) {
  return FORMATS.filter((f) => meta.geometry || f.table);
}

/** The grid worker's grids (empty for other roles). */
function myGrids(menu) {
  if (menu.ws.role !== "grid_worker") return [];
  return [...(menu.ws.grids?.length ? menu.ws.grids : menu.app?.session?.grids || [])];
}

/** The choices the layer offers now, each with the request parameters it stands for. */
export function scopesFor(menu, meta) {
  const out = [{ id: "all", params: {} }];
  const mine = myGrids(menu);
  if (mine.length) out.push({ id: "mine", params: { grids: mine }, count: mine.length });
  if (meta.geometry || meta.located_by) out.push({ id: "view", params: { bbox: menu.hooks.viewBbox() } });
  const wheres = menu.app ? menu.app.filter(meta.name) : [];
  if (wheres.length) out.push({ id: "filter", params: { where: wheres }, wheres });
  const ids = menu.app ? menu.app.selected(meta.name) : [];
  const selectedGrids = menu.app ? menu.app.selectedGrids() : [];
  if (ids.length) out.push({ id: "selection", params: { ids }, n: ids.length });
  else if (selectedGrids.length) out.push({ id: "selection", params: { grids: selectedGrids }, grids: selectedGrids });
  out.push({ id: "grids", params: { grids: [...menu.picked] } });
  return out;
}

function scopeLabel(scope) {
  if (scope.id === "mine") return t("export.scope.mine", { n: scope.count });
  if (scope.id === "filter") return t("export.scope.filter", { n: scope.wheres.length });
  if (scope.id === "selection") {
    return scope.grids ? t("export.scope.selection_grids", { n: scope.grids.length }) : t("export.scope.selection", { n: scope.n });
  }
  if (scope.id === "view") return t("export.view");
  return t(`export.scope.${scope.id}`);
}

/** Draw the open menu of `menu.current`: its heading, the choices of what with their counts, the
 * grid picker, the formats and the notes. */
export function renderMenu(menu) {
  const { meta } = menu.layers.get(menu.current);
  menu.root.dataset.exportMenu = meta.name;
  const kicker = h("div", { class: "export-menu-kicker", text: t("export.heading") });
  const title = h("div", { class: "export-menu-title", text: pick(meta.title, meta.name) });
  title.id = "export-menu-title";
  const parts = [kicker, title];

  const scopes = scopesFor(menu, meta);
  if (!scopes.some((sc) => sc.id === menu.scope)) menu.scope = scopes.some((sc) => sc.id === "mine") ? "mine" : "all";
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
    box.checked = scope.id === menu.scope;
    box.addEventListener("change", () => {
      if (!box.checked) return;
      menu.scope = scope.id;
      showPicker(menu);
    });
    const label = h("label", { class: "export-view export-scope" });
    if (scope.id === "view") label.title = t("export.view.title");
    if (scope.id === "filter") label.title = scope.wheres.join(" · ");
    const count = h("span", { class: "export-count" });
    count.dataset.exportCount = scope.id;
    label.append(box, h("span", { class: "export-scope-name", text: scopeLabel(scope) }), count);
    group.append(label);
    if (scope.id !== "grids") showCount(menu, meta, scope, count);
    else countGrids(menu, meta, count);
  }
  parts.push(group);
  menu.picker = gridPicker(menu, meta);
  parts.push(menu.picker);

  const list = h("ul", { class: "export-formats" });
  for (const f of formatsFor(meta)) {
    const item = h("button", { class: "export-format" });
    item.type = "button";
    item.dataset.exportFormat = f.id;
    item.append(h("span", { class: "export-format-name", text: t(`export.format.${f.id}`) }), h("span", { class: "export-format-ext", text: f.ext }));
    item.addEventListener("click", () => menu.choose(meta.name, f.id));
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
  menu.root.replaceChildren(...parts);
  showPicker(menu);
}

/** The grid picker: a search box and a checkbox per grid (code and name). */
function gridPicker(menu, meta) {
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
    for (const g of menu.gridList || []) {
      if (word && !`${g.code} ${g.name}`.toLowerCase().includes(word)) continue;
      const check = h("input");
      check.type = "checkbox";
      check.dataset.exportGrid = g.code;
      check.checked = menu.picked.has(g.code);
      check.addEventListener("change", () => {
        if (check.checked) menu.picked.add(g.code);
        else menu.picked.delete(g.code);
        const radio = menu.root.querySelector('[data-export-scope="grids"]');
        if (radio && !radio.checked) {
          radio.checked = true;
          menu.scope = "grids";
        }
        countGrids(menu, meta, menu.root.querySelector('[data-export-count="grids"]'), COUNT_DELAY_MS);
      });
      const row = h("label", { class: "export-grid" });
      row.append(check, h("span", { class: "export-grid-code", text: g.code }), h("span", { class: "export-grid-name", text: g.name || "" }));
      list.append(row);
    }
    if (menu.gridList && !list.childElementCount) list.append(h("div", { class: "export-grid-none", text: t("export.grids.none") }));
  };
  search.addEventListener("input", fill);
  box.append(search, list);
  if (menu.gridList) fill();
  else {
    list.append(h("div", { class: "export-grid-none", text: t("export.grids.loading") }));
    loadGrids(menu).then(fill, (err) => list.replaceChildren(h("div", { class: "export-grid-none", text: describeError(err) })));
  }
  return box;
}

function showPicker(menu) {
  if (menu.picker) menu.picker.hidden = menu.scope !== "grids";
  menu.place();
}

async function loadGrids(menu) {
  if (!menu.gridList) {
    const fc = await getJSON("api/layers/grids");
    menu.gridList = (fc.features || [])
      .map((f) => ({ code: String(f.properties.code), name: f.properties.name || "" }))
      .sort((a, b) => a.code.localeCompare(b.code));
  }
  return menu.gridList;
}

/** The rows a choice gives, from the server (`limit=0`: numberMatched), shown in `target`. */
function showCount(menu, meta, scope, target) {
  const query = countQuery(scope.params);
  const key = `${meta.name}?${query}`;
  if (!menu.counts.has(key)) {
    const url = `api/layers/${encodeURIComponent(meta.name)}?limit=0${query ? `&${query}` : ""}`;
    menu.counts.set(
      key,
      getJSON(url).then((fc) => fc.numberMatched).catch((err) => {
        menu.counts.delete(key);
        throw err;
      }),
    );
  }
  target.textContent = "…";
  delete target.dataset.count;
  menu.counts.get(key).then(
    (n) => {
      target.dataset.count = String(n);
      target.textContent = t("export.rows", { n: formatNumber(n) });
    },
    () => {
      target.textContent = "";
    },
  );
}

function countGrids(menu, meta, target, delay = 0) {
  if (!target) return;
  clearTimeout(menu.countTimer);
  if (!menu.picked.size) {
    target.textContent = t("export.grids.pick");
    delete target.dataset.count;
    return;
  }
  target.textContent = "…";
  menu.countTimer = setTimeout(() => showCount(menu, meta, { params: { grids: [...menu.picked] } }, target), delay);
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
export function jobParams(params) {
  const out = {};
  if (params.where?.length) out.where = params.where;
  if (params.grids?.length) out.grids = params.grids;
  if (params.ids?.length) out.ids = params.ids;
  if (params.bbox) out.bbox = params.bbox;
  return out;
}
