// The chooser: a click on the map lists every feature under it, across every drawn layer
// (chooser_hits.js: points, then lines, then buildings, camera views, grids and the community
// last). The popup shows the first with a "1 of N" header (‹ › buttons, ←/→ keys) and, for more
// than PICK_LIST features, a compact list to jump to any; the shown feature is highlighted on the
// map (chooser_marks.js; a camera's view too) and the highlight follows ‹ ›.
//
// Showing a grid selects it: app.select("grids", [id], {grids: [code], also: {buildings: […],
// facilities: […], …}}) with the features of the loaded layers whose grid_code is the grid's.
// A grid selected by another tool without its members gets them too. The selection is drawn
// (a soft fill and outline on the members) and named in a bar over the map until it is cleared:
// Esc, a click where no feature is, or the bar's clear button.
//
// Other tools reach it through the workbench only: their popup buttons
// (app.addPopupAction(layer, …)) show in the popup's footer; app.focus(…) ends in a "pick"
// event {layer, target, latlng} (map.js) that opens the popup on that feature.
//
// Hooks for tests: the popup's root .gm-pick[data-count][data-index], its nav buttons
// [data-pick="prev"|"next"], list buttons [data-pick-index][data-item-layer]; window.gridmap.chooser =
// {hits(): [{layer, id, kind}], index, picked: {layer, id, marks}, selectionMarks, pickAt(x, y)};
// #pick-selection (the bar; its counts [data-selected-layer][data-count]), #pick-clear.

/* global L */
import { h } from "./dom.js";
import { pick } from "./i18n.js";
import { anchorOf, hitOf, hitsAt } from "./chooser_hits.js";
import { Marks } from "./chooser_marks.js";
import { featureHeading, renderPopup } from "./popup.js";

/** From this many features on, the popup lists them all (a compact identify list). */
export const PICK_LIST = 9;
/** Layers whose features a selected grid holds (by grid_code), when they are loaded. */
const NOT_MEMBERS = new Set(["grids", "community"]);

function editable(target) {
  return Boolean(target?.closest?.("input, textarea, select, [contenteditable=''], [contenteditable='true']"));
}

export function install(app) {
  const { map } = app;
  const gm = window.gridmap;
  const metaOf = new Map(app.ws.layers.map((l) => [l.name, l]));
  const order = app.ws.layers.map((l) => l.name);
  const marks = new Marks(map);
  let state = null; // {hits, index, popup}
  let focusNav = null; // the nav button to focus again after a re-render

  // ---- which features ----
  function drawnGroups() {
    const out = [];
    for (const [name, group] of Object.entries(gm.layers)) {
      if (group && map.hasLayer(group) && metaOf.has(name)) out.push({ name, group, meta: metaOf.get(name), order: order.indexOf(name) });
    }
    return out;
  }

  function hitsAtPoint(lp) {
    return hitsAt(map, drawnGroups(), map.layerPointToLatLng(lp), lp, { label: (hit) => featureHeading(hit.meta, hit.feature) });
  }

  /** Names of the grids and communities codes refer to, from their loaded layers. */
  function referenceNames() {
    const names = new Map();
    for (const [column, layer] of [["grid_code", "grids"], ["community_code", "community"]]) {
      const byCode = new Map();
      gm.layers[layer]?.eachLayer((l) => {
        const p = l.feature?.properties;
        if (p?.code && p.name) byCode.set(p.code, p.name);
      });
      names.set(column, byCode);
    }
    return (column, code) => names.get(column)?.get(code) ?? null;
  }

  // ---- the popup ----
  const legendWidth = () => {
    const legend = document.getElementById("legend-card");
    return !legend || legend.classList.contains("collapsed") || !legend.offsetWidth ? 0 : legend.offsetWidth + 12;
  };

  // The selection bar at the foot of the map: a popup pans clear of it.
  const bottomClear = () => {
    const bar = document.querySelector(".gm-pick-selection:not([hidden])");
    if (!bar) return 10;
    const mapBottom = map.getContainer().getBoundingClientRect().bottom;
    return Math.max(10, Math.ceil(mapBottom - bar.getBoundingClientRect().top) + 10);
  };

  function popupOptions() {
    const options = { maxWidth: 360, minWidth: 240, className: "gm-popup-wrap gm-pick-wrap" };
    // An opening popup pans clear of the panel (left) and the legend card (right) as they are
    // then, collapsed or not.
    Object.defineProperties(options, {
      autoPanPaddingTopLeft: { get: () => L.point((app.panel?.coveredWidth?.() || 0) + 10, 10), enumerable: true },
      autoPanPaddingBottomRight: { get: () => L.point(legendWidth() + 10, bottomClear()), enumerable: true },
    });
    return options;
  }

  function navButton(kind, label, glyph) {
    const b = h("button", { class: `gm-pick-${kind}`, text: glyph });
    b.type = "button";
    b.dataset.pick = kind;
    b.title = label;
    b.setAttribute("aria-label", label);
    b.addEventListener("click", (e) => {
      e.stopPropagation();
      focusNav = kind;
      show(state.index + (kind === "next" ? 1 : -1));
    });
    return b;
  }

  function render() {
    const root = h("div", { class: "gm-pick" });
    if (!state) return root;
    const { hits, index } = state;
    const hit = hits[index];
    root.dataset.count = String(hits.length);
    root.dataset.index = String(index);
    if (hits.length > 1) {
      const nav = h("div", { class: "gm-pick-nav" });
      const pos = h("span", { class: "gm-pick-pos", text: app.t("pick.position", { i: index + 1, n: hits.length }) });
      pos.setAttribute("aria-live", "polite");
      nav.append(navButton("prev", app.t("pick.prev"), "‹"), pos, navButton("next", app.t("pick.next"), "›"));
      root.append(nav);
    }
    root.append(renderPopup(hit.meta, hit.feature, { actions: app.popupActions(hit.layer, hit.feature), refName: referenceNames() }));
    if (hits.length >= PICK_LIST) {
      const box = h("div", { class: "gm-pick-list-box" });
      box.append(h("div", { class: "gm-pick-list-title", text: app.t("pick.list", { n: hits.length }) }));
      const list = h("ol", { class: "gm-pick-list" });
      hits.forEach((item, i) => {
        const li = h("li");
        const b = h("button", { class: "gm-pick-item" });
        b.type = "button";
        b.dataset.pickIndex = String(i);
        b.dataset.itemLayer = item.layer;
        if (item.feature.id !== undefined) b.dataset.featureId = String(item.feature.id);
        b.append(h("span", { class: "gm-pick-item-layer", text: pick(item.meta.title, item.layer) }), h("span", { class: "gm-pick-item-name", text: item.label ?? featureHeading(item.meta, item.feature) }));
        if (i === index) b.setAttribute("aria-current", "true");
        b.addEventListener("click", (e) => {
          e.stopPropagation();
          show(i);
        });
        li.append(b);
        list.append(li);
      });
      box.append(list);
      root.append(box);
    }
    return root;
  }

  function afterRender() {
    const content = state?.popup.getElement();
    if (!content) return;
    content.querySelector(".gm-pick-item[aria-current]")?.scrollIntoView({ block: "nearest" });
    if (focusNav) content.querySelector(`[data-pick="${focusNav}"]`)?.focus();
    focusNav = null;
  }

  function show(i) {
    if (!state) return;
    const n = state.hits.length;
    state.index = ((i % n) + n) % n;
    const hit = state.hits[state.index];
    marks.showPick(hit);
    if (hit.layer === "grids") selectGrid(hit.feature, "chooser");
    state.popup.update();
    afterRender();
  }

  let popup = null; // one popup, moved and refilled: no second one fading out

  /** Open the chooser on `hits` at `latlng` (nothing under it: close, clear the selection). */
  function open(hits, latlng) {
    if (!hits.length) {
      map.closePopup();
      app.clearSelection({ source: "chooser" });
      return;
    }
    popup = popup || L.popup(popupOptions()).setContent(() => render());
    state = { hits, index: 0, popup };
    marks.showPick(hits[0]);
    if (hits[0].layer === "grids") selectGrid(hits[0].feature, "chooser");
    popup.setLatLng(latlng);
    if (map.hasLayer(popup)) popup.update();
    else popup.openOn(map);
    afterRender();
  }

  function close() {
    if (state) map.closePopup(state.popup);
  }

  app.on("mode", () => app.mode && close());
  map.on("popupclose", (e) => {
    if (state && e.popup === state.popup) {
      state = null;
      marks.clearPick();
    }
  });

  const seen = new WeakSet();
  map.on("click", (e) => {
    if (app.mode) return; // a tool holds the map's clicks (grid planning)
    const ev = e.originalEvent;
    if (ev) {
      if (seen.has(ev)) return;
      seen.add(ev);
    }
    // The click's own position (Leaflet snaps e.latlng to a small marker it hit).
    const lp = ev ? map.mouseEventToLayerPoint(ev) : e.layerPoint;
    open(hitsAtPoint(lp), map.layerPointToLatLng(lp));
  });

  // app.focus(): show that feature first, then what else lies at its anchor.
  app.on("pick", (e) => {
    const { layer, target, latlng, feature } = e.detail || {};
    const meta = metaOf.get(layer);
    const shown = feature || target?.feature; // one of a stacked marker's features, or its own
    if (!meta || !shown) return;
    const at = latlng || anchorOf(target);
    const first = hitOf(layer, meta, target, order.indexOf(layer), shown);
    const rest = hitsAtPoint(map.latLngToLayerPoint(at)).filter((h) => !(h.layer === layer && String(h.feature.id) === String(shown.id)));
    open([first, ...rest], at);
  });

  // A layer turned off leaves the list (and the popup when nothing is left).
  map.on("layerremove", (e) => {
    const name = e.layer?.gmLayer;
    if (!name) return;
    queueSelectionDraw();
    if (!state) return;
    const current = state.hits[state.index];
    const hits = state.hits.filter((h) => h.layer !== name);
    if (hits.length === state.hits.length) return;
    if (!hits.length) {
      close();
      return;
    }
    state.hits = hits;
    const keep = hits.indexOf(current);
    show(keep >= 0 ? keep : Math.min(state.index, hits.length - 1));
  });
  map.on("layeradd", (e) => {
    if (!e.layer?.gmLayer) return;
    queueSelectionDraw();
    refreshMembers();
  });
  // A layer drawn anew for another window (loader.js): the selection marks follow.
  map.on("gmlayerdata", () => {
    queueSelectionDraw();
    refreshMembers();
  });

  // ←/→ step through the features, Esc closes the popup and clears the selection.
  document.addEventListener(
    "keydown",
    (e) => {
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || editable(e.target)) return;
      if ((e.key === "ArrowLeft" || e.key === "ArrowRight") && state && state.hits.length > 1) {
        e.preventDefault();
        e.stopPropagation(); // not the map's keyboard panning
        show(state.index + (e.key === "ArrowRight" ? 1 : -1));
      } else if (e.key === "Escape") {
        const inMap = e.target === document.body || Boolean(e.target?.closest?.("#map"));
        if (!inMap) return;
        close();
        app.clearSelection({ source: "chooser" });
      }
    },
    true,
  );

  // ---- the selection ----
  /** Ids of the loaded features of each layer whose grid_code is `code`. */
  function membersOf(code) {
    const also = {};
    for (const [name, group] of Object.entries(gm.layers)) {
      if (!group || NOT_MEMBERS.has(name)) continue;
      const ids = new Set();
      group.eachLayer((l) => {
        for (const f of Array.isArray(l.features) ? l.features : l.feature ? [l.feature] : []) {
          if (f.properties?.grid_code === code && f.id !== undefined && f.id !== null) ids.add(f.id);
        }
      });
      if (ids.size) also[name] = [...ids];
    }
    return also;
  }

  function selectGrid(feature, source) {
    const code = feature.properties?.code;
    if (!code) return;
    const same = app.selectedGrids().length === 1 && app.selectedGrids()[0] === code && app.selected("grids").map(String).includes(String(feature.id));
    if (same) return;
    app.select("grids", [feature.id], { grids: [code], also: membersOf(code), source });
  }

  /** After a layer loads: the selected grids hold its features too. */
  function refreshMembers() {
    const codes = app.selectedGrids();
    if (codes.length !== 1 || !app.selected("grids").length) return;
    const also = membersOf(codes[0]);
    const changed = Object.entries(also).some(([name, ids]) => ids.length !== app.selected(name).length);
    if (changed) app.select("grids", app.selected("grids"), { grids: codes, also, source: "chooser" });
  }

  let drawQueued = false;
  function queueSelectionDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      drawSelection();
    });
  }

  function drawSelection() {
    const members = new Map();
    for (const name of app.selectedLayers()) {
      const group = gm.layers[name];
      if (!group || !map.hasLayer(group)) continue;
      const ids = new Set(app.selected(name).map(String));
      const layers = [];
      const done = new Set();
      group.eachLayer((l) => {
        if (l.options.interactive === false) return;
        if (name === "cameras" && l.options.gmRole === "view") return; // the camera's point stands for it
        // a stacked marker (`.features`) stands for all of its features
        const keys = (l.feature ? [l.feature] : Array.isArray(l.features) ? l.features : []).map((f) => String(f.id));
        const picked = keys.filter((k) => ids.has(k) && !done.has(k));
        if (!picked.length) return;
        picked.forEach((k) => done.add(k));
        layers.push(l);
      });
      members.set(name, layers);
    }
    marks.showSelection(members);
    renderBar();
  }

  app.on("selection", (e) => {
    const grids = app.selectedGrids();
    // A grid selected without what it holds (by search, say): add its members.
    if (grids.length === 1 && app.selectedLayers().length === 1 && app.selected("grids").length) {
      const also = membersOf(grids[0]);
      if (Object.keys(also).length) {
        // after every listener has heard this event, so that the last one they hear is the full one
        const ids = app.selected("grids");
        queueMicrotask(() => {
          if (app.selectedGrids().join() === grids.join() && app.selectedLayers().length === 1) app.select("grids", ids, { grids, also, source: e.detail?.source || "chooser" });
        });
        return;
      }
    }
    drawSelection();
  });

  // The bar that names the selection, with its clear button.
  const bar = h("div", { class: "gm-pick-selection" });
  bar.id = "pick-selection";
  bar.hidden = true;
  bar.setAttribute("role", "status");
  L.DomEvent.disableClickPropagation(bar);
  L.DomEvent.on(bar, "click", L.DomEvent.stopPropagation);
  L.DomEvent.disableScrollPropagation(bar);
  map.getContainer().append(bar);

  function gridName(code) {
    let name = code;
    gm.layers.grids?.eachLayer((l) => {
      if (l.feature?.properties?.code === code && l.feature.properties.name) name = l.feature.properties.name;
    });
    return name;
  }

  function renderBar() {
    const layers = app.selectedLayers();
    const wasHidden = bar.hidden;
    bar.replaceChildren();
    bar.hidden = !layers.length;
    if (!layers.length) return;
    // the bar appears over the top of the map: an open popup pans clear of it
    if (wasHidden && popup && map.hasLayer(popup)) requestAnimationFrame(() => map.hasLayer(popup) && popup.update());
    const grids = app.selectedGrids();
    const what = grids.length ? grids.map(gridName).join("、") : app.t("pick.selection.features");
    bar.append(h("span", { class: "gm-pick-selection-title", text: app.t("pick.selection", { what }) }));
    const counts = layers
      .filter((name) => !(grids.length && name === "grids"))
      .map((name) => {
        const span = h("span", { class: "gm-pick-selection-count", text: app.t("pick.selection.count", { layer: pick(metaOf.get(name)?.title, name), n: app.selected(name).length }) });
        span.dataset.selectedLayer = name;
        span.dataset.count = String(app.selected(name).length);
        return span;
      });
    if (counts.length) {
      const box = h("span", { class: "gm-pick-selection-counts" });
      box.append(...counts);
      bar.append(box);
    }
    const clear = h("button", { class: "gm-pick-selection-clear", text: app.t("pick.selection.clear") });
    clear.type = "button";
    clear.id = "pick-clear";
    clear.addEventListener("click", (e) => {
      e.stopPropagation(); // the bar empties itself: Leaflet could no longer tell the click was on it
      app.clearSelection({ source: "chooser" });
    });
    bar.append(clear);
  }

  app.on("language", () => {
    for (const h of state?.hits || []) delete h.label; // titles of stand-ins are words
    renderBar();
    if (state) afterRender();
  });

  gm.chooser = {
    hits: () => (state ? state.hits.map((h) => ({ layer: h.layer, id: h.feature.id ?? null, kind: h.kind })) : []),
    get index() {
      return state ? state.index : -1;
    },
    get picked() {
      return marks.picked;
    },
    get selectionMarks() {
      return marks.selection.getLayers().length;
    },
    /** The hits under container pixel (x, y), without opening anything. */
    pickAt: (x, y) => hitsAtPoint(map.containerPointToLayerPoint([x, y])).map((h) => ({ layer: h.layer, id: h.feature.id ?? null, kind: h.kind })),
  };
}
