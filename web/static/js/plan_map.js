// What the grid planning tool draws on the map (planning.js holds the state and talks to the
// server): the grids coloured by how far their households are from the range, the selection,
// the street blocks and buildings a planner paints, the findings, an old version to compare,
// and the guides the editor snaps to (streets, building outlines).
//
// Shared borders while a vertex is dragged: the stored grids are one coverage, so a vertex two
// grids share is the same coordinate in both (to the storage grid, 1e-7°). VertexFollow finds
// the neighbours' copies of a dragged vertex and moves them with it, and a vertex added on a
// shared edge is added to the neighbour too, so the planner sees what the server will do; the
// server recomputes the neighbours (topology.reshape) when the edit is saved.

/* global L */
import { ACCENT } from "./styles.js";

/** Fill colours of grids by household count against the range [lo, hi]. */
export const DEVIATION_COLOURS = {
  under2: "#4c78a8", // fewer than 75 % of the lowest
  under: "#9ecae9", // below the range
  in: "#c7e9c0", // in the range
  over: "#fdae6b", // above the range
  over2: "#e6550d", // more than 125 % of the highest
  none: "#dee2e6", // no figure
};

/** The class of a household count against the range (a key of DEVIATION_COLOURS). */
export function deviationClass(households, lo, hi) {
  if (households === null || households === undefined || Number.isNaN(households)) return "none";
  if (households < lo * 0.75) return "under2";
  if (households < lo) return "under";
  if (households <= hi) return "in";
  if (households <= hi * 1.25) return "over";
  return "over2";
}

/** A grid code as the page shows it: the community's number and the grid's ("3-007"). */
export function shortCode(code) {
  const s = String(code || "");
  if (s.length < 6) return s;
  return `${Number(s.slice(-6, -3))}-${s.slice(-3)}`;
}

/** A coordinate's key on the storage grid (1e-7°): shared vertices have the same key. */
export function vertexKey(latlng) {
  return `${latlng.lat.toFixed(7)},${latlng.lng.toFixed(7)}`;
}

/** Every L.LatLng of a polygon's nested latlngs, with the ring array holding it and its index. */
function* vertices(latlngs) {
  if (!Array.isArray(latlngs) || !latlngs.length) return;
  if (latlngs[0] instanceof L.LatLng) {
    for (let i = 0; i < latlngs.length; i++) yield { ring: latlngs, index: i, latlng: latlngs[i] };
    return;
  }
  for (const part of latlngs) yield* vertices(part);
}

/** The ring array and index an indexPath ([part, ring, i] or [ring, i]) points at. */
function atPath(latlngs, indexPath) {
  let ring = latlngs;
  for (const i of indexPath.slice(0, -1)) ring = ring[i];
  return { ring, index: indexPath[indexPath.length - 1] };
}

/** Whether [lng, lat] lies inside a GeoJSON Polygon or MultiPolygon (even-odd rule). */
export function pointInGeometry(lng, lat, geometry) {
  if (!geometry) return false;
  const polys = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
  for (const rings of polys) {
    let inside = false;
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if (yi > lat !== yj > lat && lng < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
    if (inside) return true;
  }
  return false;
}

/**
 * Moves the neighbours' copies of the vertices a planner drags on one grid (Leaflet-Geoman's
 * marker events on that grid's layer).
 */
export class VertexFollow {
  /**
   * @param {L.Polygon} layer the grid being edited
   * @param {L.Polygon[]} others the other grids' layers
   */
  constructor(layer, others) {
    this.layer = layer;
    this.followers = new WeakMap(); // marker -> [{layer, latlng}]
    this.index = new Map(); // vertex key -> [{layer, latlng}]
    this.touched = new Set(); // the layers moved
    for (const other of others) {
      for (const v of vertices(other.getLatLngs())) {
        const key = vertexKey(v.latlng);
        if (!this.index.has(key)) this.index.set(key, []);
        this.index.get(key).push({ layer: other, latlng: v.latlng, ring: v.ring });
      }
    }
    this.handlers = {
      "pm:markerdragstart": (e) => this.start(e),
      "pm:markerdrag": (e) => this.drag(e),
      "pm:vertexadded": (e) => this.added(e),
    };
    for (const [type, fn] of Object.entries(this.handlers)) layer.on(type, fn);
  }

  /** The layers of the grids sharing a vertex with the edited one. */
  neighbours() {
    const own = new Set([...vertices(this.layer.getLatLngs())].map((v) => vertexKey(v.latlng)));
    const out = new Set();
    for (const key of own) for (const f of this.index.get(key) || []) out.add(f.layer);
    return [...out];
  }

  start(e) {
    const marker = e.markerEvent?.target;
    if (!marker || this.followers.has(marker)) return;
    this.followers.set(marker, this.index.get(vertexKey(marker.getLatLng())) || []);
  }

  drag(e) {
    const marker = e.markerEvent?.target;
    const list = marker && this.followers.get(marker);
    if (!list?.length) return;
    const to = marker.getLatLng();
    const moved = new Set();
    for (const f of list) {
      f.latlng.lat = to.lat;
      f.latlng.lng = to.lng;
      moved.add(f.layer);
    }
    for (const l of moved) {
      l.setLatLngs(l.getLatLngs());
      this.touched.add(l);
    }
  }

  /** A vertex added on an edge the grid shares: add it to the neighbour's ring too. */
  added(e) {
    if (!e.indexPath || !e.marker) return;
    const { ring, index } = atPath(this.layer.getLatLngs(), e.indexPath);
    const n = ring.length;
    if (n < 4) return;
    const prev = vertexKey(ring[(index - 1 + n) % n]);
    const next = vertexKey(ring[(index + 1) % n]);
    const inserted = [];
    const byLayer = new Map();
    for (const f of this.index.get(prev) || []) byLayer.set(f.ring, f);
    for (const g of this.index.get(next) || []) {
      const f = byLayer.get(g.ring);
      if (!f) continue;
      const r = g.ring;
      const i = r.indexOf(f.latlng);
      const j = r.indexOf(g.latlng);
      const m = r.length;
      let at = -1;
      if ((i + 1) % m === j) at = i + 1;
      else if ((j + 1) % m === i) at = j + 1;
      if (at < 0) continue;
      const copy = L.latLng(ring[index].lat, ring[index].lng);
      r.splice(at, 0, copy);
      const entry = { layer: g.layer, latlng: copy, ring: r };
      inserted.push(entry);
      const key = vertexKey(copy);
      if (!this.index.has(key)) this.index.set(key, []);
      this.index.get(key).push(entry);
    }
    if (inserted.length) this.followers.set(e.marker, inserted);
  }

  stop() {
    for (const [type, fn] of Object.entries(this.handlers)) this.layer.off(type, fn);
  }
}

/** Style of a grid of the plan. */
export function gridStyle(cls, { selected = false, dim = false } = {}) {
  return {
    color: selected ? ACCENT : "#1f3354",
    weight: selected ? 3.5 : 1.4,
    opacity: dim ? 0.5 : 0.95,
    fillColor: DEVIATION_COLOURS[cls] || DEVIATION_COLOURS.none,
    fillOpacity: dim ? 0.2 : 0.55,
    lineJoin: "round",
  };
}

export const BLOCK_STYLE = { color: "#495057", weight: 1, dashArray: "4 3", fillColor: "#ffffff", fillOpacity: 0.05, opacity: 0.8 };
export const PICKED_STYLE = { color: ACCENT, weight: 2.5, fillColor: ACCENT, fillOpacity: 0.35, opacity: 1, dashArray: null };
export const BUILDING_STYLE = { color: "#6c757d", weight: 0.8, fillColor: "#adb5bd", fillOpacity: 0.6, opacity: 1 };
export const FINDING_STYLE = { color: "#c92a2a", weight: 3, fillColor: "#c92a2a", fillOpacity: 0.35, opacity: 1 };
export const VERSION_STYLE = { color: "#7048e8", weight: 2.5, dashArray: "6 4", fill: false, opacity: 0.95 };
/** A partition proposal, drawn over the plan: thick teal dashes, a teal veil. */
export const PROPOSAL_STYLE = { color: "#0b7285", weight: 4, dashArray: "10 6", fillColor: "#15aabf", fillOpacity: 0.22, opacity: 1 };
export const GUIDE_STYLE = { color: "#868e96", weight: 1, opacity: 0.25, fill: false, interactive: false };

/** The drawing of one GeoJSON FeatureCollection, each feature's layer kept by a key. */
export class KeyedLayer {
  /**
   * @param {L.Map} map
   * @param {{style: (f) => object, key: (f) => string, pane?: string, editable?: boolean,
   *   onClick?: (key, e) => void, tooltip?: (f) => string | null}} options
   */
  constructor(map, { style, key, pane, editable = false, onClick, tooltip, renderer }) {
    this.map = map;
    this.styleOf = style;
    this.keyOf = key;
    this.byKey = new Map();
    this.tooltip = tooltip;
    this.group = L.geoJSON(null, {
      pane,
      renderer,
      pmIgnore: !editable,
      snapIgnore: editable ? undefined : true,
      style: (f) => this.styleOf(f),
      onEachFeature: (f, layer) => {
        this.byKey.set(this.keyOf(f), layer);
        if (onClick) layer.on("click", (e) => onClick(this.keyOf(f), e));
        const tip = this.tooltip?.(f);
        if (tip) layer.bindTooltip(tip, { permanent: true, direction: "center", className: "plan-label", interactive: false });
      },
    });
  }

  set(features) {
    this.group.clearLayers();
    this.byKey.clear();
    this.group.addData({ type: "FeatureCollection", features });
  }

  /** Replace only the layers of ``features`` (by key) and drop those of ``removed`` keys. */
  update(features, removed = []) {
    for (const key of [...removed, ...features.map((f) => this.keyOf(f))]) {
      const layer = this.byKey.get(key);
      if (layer) this.group.removeLayer(layer);
      this.byKey.delete(key);
    }
    if (features.length) this.group.addData({ type: "FeatureCollection", features });
  }

  restyle() {
    for (const layer of this.byKey.values()) layer.setStyle(this.styleOf(layer.feature));
  }

  restyleOne(key) {
    const layer = this.byKey.get(key);
    if (layer) layer.setStyle(this.styleOf(layer.feature));
  }

  get(key) {
    return this.byKey.get(key) || null;
  }

  show(on) {
    if (on && !this.map.hasLayer(this.group)) this.group.addTo(this.map);
    if (!on && this.map.hasLayer(this.group)) this.map.removeLayer(this.group);
  }
}

/** The view's bounding box as the API's `bbox` (minlon,minlat,maxlon,maxlat), padded. */
export function viewBbox(map, pad = 0.2) {
  const b = map.getBounds().pad(pad);
  return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
}
