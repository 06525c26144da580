// What lies under a click: every feature of every drawn layer, in the order the chooser lists
// them (chooser.js). Points and lines within the canvas hit tolerance (a circle's radius plus the
// renderer's tolerance plus half its stroke, as Leaflet's own canvas hit test), polygons that
// contain the point (tested on their coordinates, not on the pixels), across the groups of
// window.gridmap.layers that are on the map.

/* global L */
import { labelPoint } from "./geometry.js";

/** The order of kinds of hits: points, then lines, then buildings (and other areas), camera
 * views, grids, and the community last, so that grids never hide what stands in them. */
export const RANK = { point: 0, line: 1, area: 2, view: 3, grid: 4, community: 5 };

function inRing(lat, lng, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const yi = ring[i].lat;
    const yj = ring[j].lat;
    if (yi > lat !== yj > lat && lng < ((ring[j].lng - ring[i].lng) * (lat - yi)) / (yj - yi) + ring[i].lng) inside = !inside;
  }
  return inside;
}

/** Is (lat, lng) inside the rings of an L.Polygon's latlngs (a polygon with holes, or several)? */
export function polygonContains(latlngs, lat, lng) {
  if (!latlngs.length) return false;
  if (L.LineUtil.isFlat(latlngs)) return inRing(lat, lng, latlngs);
  if (L.LineUtil.isFlat(latlngs[0])) return inRing(lat, lng, latlngs[0]) && !latlngs.slice(1).some((hole) => inRing(lat, lng, hole));
  return latlngs.some((poly) => polygonContains(poly, lat, lng));
}

function lineDistance(layer, p) {
  let best = Infinity;
  for (const part of layer._parts || []) {
    for (let i = 1; i < part.length; i++) best = Math.min(best, L.LineUtil.pointToSegmentDistance(p, part[i - 1], part[i]));
  }
  return best;
}

function boundsArea(layer) {
  const b = layer.getBounds();
  return Math.abs((b.getNorth() - b.getSouth()) * (b.getEast() - b.getWest()));
}

/** The radius in pixels within which a click hits a point layer (a canvas circle or a marker). */
function pointReach(layer) {
  if (layer instanceof L.CircleMarker) return layer._radius + layer._clickTolerance();
  const size = layer.options.icon?.options?.iconSize;
  const half = Array.isArray(size) ? Math.max(...size) / 2 : size?.x ? Math.max(size.x, size.y) / 2 : 12;
  return half + 3;
}

/** The features a drawn layer stands for: its own, or those of a stacked marker (`.features`). */
function featuresOf(layer, owner) {
  if (Array.isArray(layer.features) && layer.features.length) return layer.features;
  if (layer.feature) return [layer.feature];
  return owner ? [owner] : [];
}

/** Every leaf layer of a group with the feature it belongs to (a MultiPoint's parts: the parent's). */
function eachLeaf(group, fn, owner = null) {
  group.eachLayer((l) => {
    if (l instanceof L.LayerGroup) eachLeaf(l, fn, l.feature || owner);
    else fn(l, owner);
  });
}

function kindOf(name, layer) {
  if (layer.options.gmRole === "view") return "view";
  if (name === "grids") return "grid";
  if (name === "community") return "community";
  return "area";
}

/**
 * The features under `latlng` (layer point `lp`) in `groups` ([{name, group, meta, order}];
 * order: the layer's place in the drawing order, higher on top); `label(hit)`: a feature's title,
 * to order features at the same spot. Returns hits
 * [{layer, meta, feature, target, kind, rank, dist, area, order, seq}] sorted for the chooser:
 * by kind (RANK), then points and lines by distance and polygons smallest first, then the upper
 * layer, then by title, then the feature drawn last first. A feature hit twice (a camera's point and its view)
 * is listed once, as its best hit.
 */
export function hitsAt(map, groups, latlng, lp, { label = null } = {}) {
  const found = new Map(); // "layer|id" or feature object -> hit
  let seq = 0;
  const add = (hit) => {
    const id = hit.feature.id;
    const key = id === undefined || id === null ? hit.feature : `${hit.layer}|${id}`;
    const had = found.get(key);
    if (!had || hit.rank < had.rank || (hit.rank === had.rank && hit.dist < had.dist)) found.set(key, hit);
  };
  for (const { name, group, meta, order } of groups) {
    eachLeaf(group, (l, owner) => {
      seq += 1;
      if (l.options.interactive === false) return;
      // test first (tens of thousands of points), describe only what is hit
      let kind = null;
      let dist = 0;
      let area = 0;
      if (l instanceof L.CircleMarker || l instanceof L.Marker) {
        const at = l instanceof L.CircleMarker ? l._point : map.latLngToLayerPoint(l.getLatLng());
        if (!at) return;
        dist = at.distanceTo(lp);
        if (dist > pointReach(l)) return;
        kind = "point";
      } else if (l instanceof L.Polygon) {
        if (!l.getBounds().contains(latlng) || !polygonContains(l.getLatLngs(), latlng.lat, latlng.lng)) return;
        kind = kindOf(name, l);
        area = boundsArea(l);
      } else if (l instanceof L.Polyline) {
        if (!l._pxBounds || !l._containsPoint(lp)) return;
        kind = "line";
        dist = lineDistance(l, lp);
      } else {
        return;
      }
      for (const feature of featuresOf(l, owner)) add({ layer: name, meta, target: l, order, seq, feature, kind, rank: RANK[kind], dist, area });
    });
  }
  // Features at one spot (a building's households) in the order of their titles ("1单元101室"
  // before "1单元102室"): a value the reader is served, so the order tells nothing more.
  const labelOf = (h) => (h.label ??= label(h));
  const byLabel = label ? (a, b) => (a.layer === b.layer ? COLLATOR.compare(labelOf(a), labelOf(b)) : 0) : () => 0;
  return [...found.values()].sort(
    (a, b) => a.rank - b.rank || (a.rank <= RANK.line ? a.dist - b.dist : a.area - b.area) || b.order - a.order || byLabel(a, b) || b.seq - a.seq,
  );
}

const COLLATOR = new Intl.Collator("zh-CN", { numeric: true });

/** The hit of drawn feature `target` of layer `name` as hitsAt gives it, wherever the click;
 * `feature`: which of a stacked marker's features (default: the target's own). */
export function hitOf(name, meta, target, order = 0, feature = null) {
  let kind = "point";
  if (target instanceof L.Polygon) kind = kindOf(name, target);
  else if (target instanceof L.Polyline) kind = "line";
  return { layer: name, meta, feature: feature || target.feature, target, kind, rank: RANK[kind], dist: 0, area: 0, order, seq: 0 };
}

/** A point of a drawn feature to anchor its popup at: the marker, a point well inside a polygon,
 * the middle vertex of a line. */
export function anchorOf(layer) {
  if (layer.getLatLng) return layer.getLatLng();
  if (layer instanceof L.Polygon && layer.feature?.geometry) {
    const at = labelPoint(layer.feature.geometry);
    if (at) return L.latLng(at[0], at[1]);
  }
  if (layer.getLatLngs) {
    const flat = layer.getLatLngs().flat(3);
    if (flat.length) return flat[Math.floor(flat.length / 2)];
  }
  return layer.getBounds ? layer.getBounds().getCenter() : null;
}
