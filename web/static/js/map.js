// Entry point of the map page: loads the workspace description and the UI strings, builds the
// map, the workspace base map, the data layers (lazily), the panel and the legend.
//
// Hooks for tests and for the browser console:
//   document.body.dataset.mapReady === "1"  once the base map and every default layer are drawn
//   window.gridmap = {map, layers: {name: L.Layer}, lang, basemap, setLayer(name, on), setLang(l),
//     loader (loader.js: idle(), state(name), stats), loadEditor() (editor.js: Leaflet-Geoman)}
//   ?whole=1 on the page's URL: every layer loaded whole, one marker a feature (as before the
//   windowed loading; scripts/bench_map.py measures both)
//   [data-layer="<name>"] checkboxes, [data-layer-row="<name>"][data-state=off|loading|drawn|error]
//   [data-basemap="workspace" | "tile:<id>"] radios, #lang-switch, #panel-toggle, #legend
//   [data-export="<name>"] download buttons and the #export-menu they open (download.js)
//   a click on the map: the chooser's popup (.gm-pick, chooser.js) and window.gridmap.chooser
//   #user-box (userbox.js): who is signed in, #sign-out / #sign-in; .read-badge[data-read=masked|own]
//   on the rows of layers served masked or only for the reader's own grids, #read-notes

/* global L */
import { describeError, getSession, getWorkspace, loadLayer } from "./api.js";
import { BASEMAP_ID, WorkspaceBasemap } from "./basemap.js";
import { ExportMenu } from "./download.js";
import { addControls } from "./controls.js";
import { loadEditor } from "./editor.js";
import {
  addChoiceTitles,
  getLang,
  loadDictionaries,
  normalizeLang,
  onLangChange,
  pick,
  setLang,
  storedLang,
  t,
} from "./i18n.js";
import { configureFormats } from "./format.js";
import { DEFAULT_ON, buildClusters, buildOverlay, declutter, layerSwatch } from "./layers.js";
import { Loader } from "./loader.js";
import { Panel, renderLegend } from "./panel.js";
import { createTileLayer } from "./tiles.js";
import { UserBox } from "./userbox.js";
import { PLUGINS } from "./plugins.js";
import { Workbench } from "./workbench.js";

const body = document.body;
const BASE_KEY = "gridmap.base";

function nextPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}

function remembered(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function remember(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* storage disabled */
  }
}

/** An explicit ?lang= wins, then the choice remembered in this browser, then the server's. */
function initialLang() {
  const fromUrl = normalizeLang(new URL(window.location.href).searchParams.get("lang"));
  return fromUrl || storedLang() || normalizeLang(body.dataset.serverLang) || "zh-CN";
}

function boundsOf(bbox) {
  if (!Array.isArray(bbox) || bbox.length !== 4 || bbox.some((v) => typeof v !== "number")) return null;
  const b = L.latLngBounds([bbox[1], bbox[0]], [bbox[3], bbox[2]]);
  return b.isValid() ? b : null;
}

function showFatal(message) {
  const status = document.getElementById("status");
  if (status) {
    status.textContent = message;
    status.classList.add("error");
    status.hidden = false;
  }
  body.dataset.mapError = "1";
}

async function main() {
  let ws;
  let session;
  try {
    [ws, , session] = await Promise.all([
      getWorkspace(),
      loadDictionaries({ "zh-CN": body.dataset.i18nZh, en: body.dataset.i18nEn }, JSON.parse(body.dataset.i18nTools || "[]")),
      getSession(),
    ]);
  } catch (err) {
    setLang(initialLang(), { remember: false });
    const msg = describeError(err);
    showFatal(t("error.workspace", { msg }, `无法加载工作区 / Could not load the workspace: ${msg}`));
    return;
  }
  ws.layers = ws.layers || [];
  ws.tiles = ws.tiles || [];
  addChoiceTitles(ws.layers);
  configureFormats(ws);
  setLang(initialLang(), { remember: false });

  const map = L.map("map", {
    preferCanvas: true,
    renderer: L.canvas({ padding: 0.5, tolerance: 3 }),
    zoomControl: false,
    attributionControl: false,
    maxZoom: 20,
    zoomSnap: 0.25,
    zoomDelta: 1,
    wheelPxPerZoomLevel: 90,
  });
  const renderer = map.options.renderer;

  // ---- controls ----
  const { zoom, updateAttribution } = addControls(map, ws, { onFit: () => fitWorkspace(true) });

  // ---- state ----
  const order = ws.layers.map((l) => l.name);
  const overlays = new Map(); // name -> {meta, want, built, promise}
  for (const meta of ws.layers) if (meta.geometry) overlays.set(meta.name, { meta, want: false, built: null, promise: null });
  const basemap = new WorkspaceBasemap(map);
  const tileLayers = new Map(ws.tiles.map((e) => [`tile:${e.id}`, createTileLayer(e)]));
  let currentBase = null;
  let openPopup = null;
  const highlighted = null; // the chooser highlights (and closes its popup when a layer goes off)

  // Layers load by the view's window (loader.js); ?whole=1: whole, as before.
  const whole = new URL(window.location.href).searchParams.get("whole") === "1";
  const loader = new Loader({ map, ws, whole, onError: (name, err) => overlays.has(name) && panel.setLayerState(name, "error", () => describeError(err)) });

  const gridmap = {
    map,
    loader,
    loadEditor,
    layers: {},
    basemap: basemap.group,
    workspace: ws,
    get lang() {
      return getLang();
    },
    setLayer: (name, on) => setOverlay(name, on),
    setLang: (lang) => switchLang(lang),
    setBase: (id) => setBase(id),
  };
  window.gridmap = gridmap;

  const exportMenu = new ExportMenu(ws, {
    viewBbox: () => {
      const b = map.getBounds();
      return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
    },
    anchorLeft: () => panel.coveredWidth(),
  });
  gridmap.session = session;
  gridmap.userBox = new UserBox(document.getElementById("user-box"), session);
  const panel = new Panel(ws, {
    layerSwatch,
    exportControls: (meta) => exportMenu.controls(meta),
    onToggle: (name, on) => setOverlay(name, on),
    onBase: (id) => setBase(id),
    onLang: () => switchLang(getLang() === "en" ? "zh-CN" : "en"),
    onCollapse: () => exportMenu.close({ focus: false }),
  });

  /** Width the legend card takes from the map's right edge (0 when collapsed). */
  function legendWidth() {
    const legend = document.getElementById("legend-card");
    return legend.classList.contains("collapsed") || !legend.offsetWidth ? 0 : legend.offsetWidth + 12;
  }

  // ---- view ----
  const wsBounds = boundsOf(ws.bounds);
  function fitWorkspace(animate) {
    if (wsBounds) {
      // Keep the area clear of the panel (left) and the legend card (right).
      map.fitBounds(wsBounds, {
        paddingTopLeft: L.point(panel.coveredWidth() + 12, 12),
        paddingBottomRight: L.point(legendWidth() + 12, 12),
        animate,
      });
    } else if (Array.isArray(ws.center)) {
      map.setView([ws.center[1], ws.center[0]], 16, { animate });
    } else {
      map.setView([39.9, 116.4], 12, { animate });
    }
  }
  fitWorkspace(false);
  if (wsBounds) {
    map.setMinZoom(Math.max(3, Math.floor(map.getZoom()) - 3));
    map.setMaxBounds(wsBounds.pad(0.75));
  }
  const container = map.getContainer();
  function zoomClasses() {
    const z = map.getZoom();
    container.classList.toggle("gm-z-lt15", z < 15);
    container.classList.toggle("gm-z-lt17", z < 17);
  }
  map.on("zoomend", zoomClasses);
  zoomClasses();

  // Names of grids and communities: hide those that would overlap a bigger area's name.
  let declutterQueued = false;
  function queueDeclutter() {
    if (declutterQueued) return;
    declutterQueued = true;
    requestAnimationFrame(() => {
      declutterQueued = false;
      const tips = [];
      for (const o of overlays.values()) {
        if (o.built?.labels && map.hasLayer(o.built.group)) tips.push(...o.built.labels);
      }
      declutter(tips);
    });
  }
  map.on("zoomend moveend", queueDeclutter);

  // ---- base maps ----
  function setBase(id, { save = true } = {}) {
    if (id !== BASEMAP_ID && !tileLayers.has(id)) id = BASEMAP_ID;
    if (id === currentBase) return;
    if (currentBase === BASEMAP_ID) map.removeLayer(basemap.group);
    else if (currentBase) map.removeLayer(tileLayers.get(currentBase));
    currentBase = id;
    map.addLayer(id === BASEMAP_ID ? basemap.group : tileLayers.get(id));
    panel.setBase(id);
    body.dataset.currentBasemap = id;
    if (save) remember(BASE_KEY, id);
    updateLegend();
  }

  // ---- data layers ----
  // A click is answered by the chooser (chooser.js, one of the PLUGINS): it lists every feature
  // under the click across the drawn layers, opens the popup and highlights the one shown. The
  // groups carry no popup of their own; they only say which layer they draw.
  function bindPopups(meta, group) {
    group.gmMeta = meta;
  }

  /** Draw what the loader delivers for `o`: the first build's group stays the layer's group
   * (gridmap.layers[name]); later windows refill it, so that it keeps its place and handlers. */
  function draw(o, data) {
    if (o.data === data) return;
    o.data = data;
    const ctx = { map, renderer, related: o.related || {}, stack: !whole };
    const built = data.kind === "clusters" ? buildClusters(o.meta, data.doc, ctx) : buildOverlay(o.meta, data.fc, ctx);
    if (!o.built) {
      bindPopups(o.meta, built.group);
      gridmap.layers[o.meta.name] = built.group;
      o.built = built;
      return;
    }
    const group = o.built.group;
    const kids = built.group.getLayers();
    built.group.clearLayers();
    group.clearLayers();
    for (const l of kids) group.addLayer(l);
    o.built = { ...built, group };
    if (!map.hasLayer(group)) return;
    restackAbove(o.meta.name);
    updateLegend();
    if (o.built.labels) queueDeclutter();
    panel.setLayerState(o.meta.name, "drawn");
    map.fire("gmlayerdata", { layer: o.meta.name });
  }

  function load(o) {
    if (!o.promise) {
      // Grid labels drop their community's name when it is known.
      const related = o.meta.name === "grids" && overlays.has("community") ? loadLayer("community").catch(() => null) : null;
      // (the grids' own request goes out meanwhile: loadLayer's cache is the loader's)
      const early = related && loader.strategy("grids") === "whole" ? loadLayer("grids").catch(() => null) : null;
      o.promise = Promise.all([related, early])
        .then(([community]) => {
          o.related = { community };
          o.watch = loader.watch(o.meta.name, (data) => draw(o, data));
          return o.watch.ready;
        })
        .then(() => o.built)
        .catch((err) => {
          o.watch?.stop();
          o.promise = null;
          throw err;
        });
    }
    return o.promise;
  }

  /** Stop loading `o` while it is off (what was loaded stays kept by the loader). */
  function unload(o) {
    o.watch?.stop();
    o.watch = null;
    o.promise = null;
  }

  /** Keep the canvas drawing order equal to the workspace's layer order. */
  function restackAbove(name) {
    const i = order.indexOf(name);
    for (const other of order.slice(i + 1)) {
      const o = overlays.get(other);
      if (o?.built && map.hasLayer(o.built.group)) o.built.group.bringToFront();
    }
  }

  async function setOverlay(name, on) {
    const o = overlays.get(name);
    if (!o) return false;
    o.want = on;
    panel.setChecked(name, on);
    if (!on) {
      unload(o);
      if (o.built) {
        if (highlighted && o.built.group.hasLayer(highlighted.layer)) map.closePopup();
        map.removeLayer(o.built.group);
      }
      panel.setLayerState(name, "off");
      updateLegend();
      return true;
    }
    if (!o.built) panel.setLayerState(name, "loading");
    try {
      await load(o);
    } catch (err) {
      o.want = false;
      panel.setChecked(name, false);
      panel.setLayerState(name, "error", () => describeError(err)); // relabelled on a language switch
      return false;
    }
    if (!o.want) return false; // turned off again while loading
    if (!map.hasLayer(o.built.group)) {
      map.addLayer(o.built.group);
      restackAbove(name);
      updateLegend();
      if (o.built.labels) queueDeclutter();
    }
    await nextPaint();
    if (o.want) panel.setLayerState(name, "drawn");
    return true;
  }

  // ---- legend ----
  function updateLegend() {
    const sections = [];
    for (const name of [...order].reverse()) {
      const o = overlays.get(name);
      if (o?.want && o.built && map.hasLayer(o.built.group) && (o.meta.count ?? 1) > 0) {
        sections.push({ id: name, title: () => pick(o.meta.title, name), entries: o.built.legend() });
      }
    }
    if (currentBase === BASEMAP_ID) sections.push({ id: "basemap", title: () => t("legend.basemap"), entries: basemap.legend() });
    renderLegend(sections);
  }

  // ---- language ----
  function relabelMap() {
    document.title = ws.title ? `${t("app.title")} · ${ws.title}` : t("app.title");
    const zin = container.querySelector(".leaflet-control-zoom-in");
    const zout = container.querySelector(".leaflet-control-zoom-out");
    const fit = container.querySelector("#fit-workspace");
    for (const [el, key] of [[zin, "map.zoom_in"], [zout, "map.zoom_out"], [fit, "map.fit"]]) {
      if (!el) continue;
      el.title = t(key);
      el.setAttribute("aria-label", t(key));
    }
    container.setAttribute("aria-label", t("map.aria"));
    document.getElementById("panel").setAttribute("aria-label", t("panel.aria"));
    document.getElementById("legend-card").setAttribute("aria-label", t("legend.aria"));
    updateAttribution();
  }

  function switchLang(lang) {
    setLang(lang, { remember: true });
    const url = new URL(window.location.href);
    if (url.searchParams.has("lang")) {
      url.searchParams.set("lang", getLang());
      window.history.replaceState(null, "", url);
    }
  }

  onLangChange(() => {
    panel.relabel();
    relabelMap();
    updateLegend();
    if (openPopup && map.hasLayer(openPopup)) openPopup.update();
  });
  map.on("popupopen", (e) => {
    openPopup = e.popup;
  });
  map.on("popupclose", (e) => {
    if (openPopup === e.popup) openPopup = null;
  });

  // ---- the workbench's tools (plugins.js) ----
  const app = new Workbench({ map, ws, session, panel, t });
  gridmap.app = app;
  loader.attach(app); // a layer's filter changes what is drawn of it
  onLangChange(() => app.emit("language", { lang: getLang() }));
  app.provide("focus", async ({ layer, id, bbox, lon, lat }) => {
    const b = boundsOf(bbox);
    const pad = { paddingTopLeft: L.point(panel.coveredWidth() + 12, 12), paddingBottomRight: L.point(legendWidth() + 12, 12) };
    if (b) map.fitBounds(b, { ...pad, maxZoom: 18, animate: false });
    else if (typeof lon === "number" && typeof lat === "number") map.setView([lat, lon], Math.max(map.getZoom(), 18), { animate: false });
    if (!layer || !overlays.has(layer)) return false;
    if (!(await setOverlay(layer, true))) return false;
    await loader.settled(layer); // the window of the new view
    const group = overlays.get(layer).built.group;
    let found = null;
    let feature = null;
    group.eachLayer((l) => {
      if (found) return;
      // a feature of its own, or one of a stacked marker's (stacks.js)
      const hit = l.feature ? (String(l.feature.id) === String(id) ? l.feature : null) : (l.features || []).find((f) => String(f.id) === String(id));
      if (hit) [found, feature] = [l, hit];
    });
    if (!found) return false;
    if (!b) {
      const where = found.getBounds ? found.getBounds() : null;
      if (where?.isValid()) map.fitBounds(where, { ...pad, maxZoom: 18, animate: false });
    }
    // The chooser opens the popup on this feature and highlights it (workbench event "pick").
    app.emit("pick", { layer, target: found, feature });
    return true;
  });
  for (const tool of PLUGINS) tool.install(app);

  panel.relabel();
  relabelMap();
  zoom.getContainer().classList.add("gm-zoom");
  document.getElementById("status").hidden = true;

  // ---- first draw ----
  setBase(remembered(BASE_KEY) || BASEMAP_ID, { save: false });
  const has = (n) => overlays.has(n);
  // The base map draws all streets and buildings (of the window), whatever the filters.
  const base = { streets: null, buildings: null, ready: false };
  const baseWatch = (name) =>
    has(name)
      ? loader.watch(
          name,
          (data) => {
            base[name] = data.fc;
            if (base.ready) basemap.setData(base.streets, base.buildings);
          },
          { filtered: false },
        ).ready
      : null;
  const basemapReady = Promise.all([baseWatch("streets"), baseWatch("buildings")]).then(() => {
    base.ready = true;
    basemap.setData(base.streets, base.buildings);
  });
  // an empty layer (a workspace made by `gridmap init` has no grids yet) starts off
  const defaults = DEFAULT_ON.filter((n) => has(n) && (overlays.get(n).meta.count ?? 1) > 0).map((n) => setOverlay(n, true));
  try {
    await basemapReady;
  } catch (err) {
    showFatal(t("error.workspace", { msg: describeError(err) }));
    return;
  }
  const results = await Promise.all(defaults);
  await nextPaint();
  if (results.every(Boolean)) body.dataset.mapReady = "1";
  else body.dataset.mapError = "1";
}

main().catch((err) => {
  showFatal(`无法加载地图 / The map could not be loaded: ${err.message}`);
  throw err;
});
