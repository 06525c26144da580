// Many points, drawn cheaply: stacked points with a count badge, and bubbles with counts.
//
// Stacks: features on one coordinate (a building's households, its visits) are drawn as one
// point with a badge giving their number; the marker keeps them all (`marker.features`), so the
// chooser (chooser.js) lists every one of them. Bubbles: when the map's window holds more points
// than draw quickly (loader.js: MAX_POINTS), the server's clusters (/api/layers/<name>/clusters,
// gridmap.service.clusters) are drawn instead: a bubble per cell with its count; a cell whose
// features all stand on one place is drawn as that place's badge. A click on a bubble or a
// badge without its features zooms in, where the features themselves load.
//
// Both markers are canvas circle markers (no DOM per marker): hit test, bounds and events are
// L.CircleMarker's. Hooks for tests: marker.options.gmCount (the number drawn),
// marker.options.gmKind ("stack" | "bubble" | "place").

/* global L */
import { t } from "./i18n.js";

const FONT = "600 11px system-ui, -apple-system, 'Segoe UI', 'Noto Sans CJK SC', sans-serif";
const BADGE_FILL = "#1f2d3d";
const BUBBLE = { fillColor: "#2b4162", color: "#ffffff", weight: 2, fillOpacity: 0.82, opacity: 1 };

/** A count as a badge shows it: 1–999, then 1.2k, 12k. */
export function shortCount(n) {
  if (n < 1000) return String(n);
  if (n < 10000) return `${(n / 1000).toFixed(1).replace(/\.0$/, "")}k`;
  return `${Math.round(n / 1000)}k`;
}

function drawText(ctx, text, x, y, colour) {
  ctx.font = FONT;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillStyle = colour;
  ctx.fillText(text, x, y + 0.5);
}

/**
 * A point of several features: the point symbol (options of the top feature's style) and a
 * round badge at its upper right with their number (options.gmCount).
 */
export const StackMarker = L.CircleMarker.extend({
  options: { gmCount: 2, gmKind: "stack" },
  _updatePath() {
    const renderer = this._renderer;
    renderer._updateCircle(this);
    if (!(renderer instanceof L.Canvas) || !renderer._drawing || this._empty()) return;
    const ctx = renderer._ctx;
    const text = shortCount(this.options.gmCount);
    const r = text.length > 2 ? 8.5 : 7;
    const x = this._point.x + this._radius + r * 0.35;
    const y = this._point.y - this._radius - r * 0.35;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, Math.PI * 2);
    ctx.fillStyle = BADGE_FILL;
    ctx.globalAlpha = 0.92;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.lineWidth = 1.2;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
    drawText(ctx, text, x, y, "#ffffff");
  },
});

/** A bubble: a disc whose size grows with its count, the count written in it. */
export const BubbleMarker = L.CircleMarker.extend({
  options: { gmCount: 1, gmKind: "bubble" },
  _updatePath() {
    const renderer = this._renderer;
    renderer._updateCircle(this);
    if (!(renderer instanceof L.Canvas) || !renderer._drawing || this._empty()) return;
    drawText(renderer._ctx, shortCount(this.options.gmCount), this._point.x, this._point.y, "#ffffff");
  },
});

/** The radius of a bubble of `count` features, in pixels (12 to 26). */
export function bubbleRadius(count) {
  return Math.min(26, 12 + 3.5 * Math.log10(Math.max(1, count)));
}

function keyOf(coords) {
  return `${coords[0]},${coords[1]}`;
}

/**
 * Point features drawn one marker a place: a lone feature as `pointMarker(f, latlng)` makes it
 * (marker.feature), several on one coordinate as a StackMarker (marker.features) in the style
 * of the last of them (features come sorted so that the most important is last).
 * Returns {group, stacks: how many places hold more than one}.
 */
export function stackedPoints(features, { renderer, styleFn, pointMarker }) {
  const places = new Map();
  for (const f of features) {
    if (f.geometry?.type !== "Point" || !Array.isArray(f.geometry.coordinates)) continue;
    const k = keyOf(f.geometry.coordinates);
    const list = places.get(k);
    if (list) list.push(f);
    else places.set(k, [f]);
  }
  const group = L.featureGroup();
  let stacks = 0;
  for (const list of places.values()) {
    const [lon, lat] = list[0].geometry.coordinates;
    if (list.length === 1) {
      const m = pointMarker(list[0], L.latLng(lat, lon));
      m.feature = list[0];
      group.addLayer(m);
      continue;
    }
    stacks += 1;
    const style = styleFn(list[list.length - 1].properties || {});
    const m = new StackMarker([lat, lon], { renderer, ...style, radius: Math.max(style.radius ?? 3, 3.5) + 1, gmCount: list.length });
    m.features = list;
    group.addLayer(m);
  }
  return { group, stacks };
}

/**
 * The bubbles of a clusters reply (gridmap.service.clusters: {clusters: [{count, lon, lat,
 * bbox, places, stacks}]}); `fillColor`: the layer's colour. A click zooms to the cell's
 * features. Returns {group, bubbles, places} (how many of each were drawn).
 */
export function clusterBubbles(doc, { map, renderer, fillColor, styleFn }) {
  const group = L.featureGroup();
  let bubbles = 0;
  let places = 0;
  for (const c of doc.clusters || []) {
    let m;
    if (c.places === 1 && c.count > 1 && c.stacks?.length) {
      // all on one place (a building): its badge, where it stands
      const s = c.stacks[0];
      const style = styleFn ? styleFn({}) : { radius: 3, fillColor };
      m = new StackMarker([s.lat, s.lon], { renderer, ...style, radius: Math.max(style.radius ?? 3, 3.5) + 1, gmCount: c.count, gmKind: "place" });
      places += 1;
    } else {
      m = new BubbleMarker([c.lat, c.lon], { renderer, ...BUBBLE, fillColor: fillColor || BUBBLE.fillColor, radius: bubbleRadius(c.count), gmCount: c.count });
      bubbles += 1;
    }
    m.gmCluster = c;
    m.on("click", (e) => {
      L.DomEvent.stop(e);
      zoomInto(map, c);
    });
    group.addLayer(m);
  }
  return { group, bubbles, places };
}

/** Zoom the map in to a cell's features: to their box (at least one level in), or two levels
 * in on a single place. */
export function zoomInto(map, cell) {
  const [w, s, e, n] = cell.bbox;
  const top = map.getMaxZoom();
  if (w === e && s === n) {
    map.setView([s, w], Math.min(top, map.getZoom() + 2));
    return;
  }
  const box = L.latLngBounds([s, w], [n, e]).pad(0.2);
  const z = Math.min(top, Math.max(map.getZoom() + 1, map.getBoundsZoom(box)));
  map.setView(box.getCenter(), z);
}

/** Legend entries of a clusters reply's bubbles and places. */
export function bubbleLegend({ bubbles, places }, fillColor, total) {
  const out = [];
  if (bubbles) out.push({ swatch: { type: "badge", fillColor: fillColor || BUBBLE.fillColor, text: "12" }, label: () => t("loader.legend.bubbles"), count: total });
  if (places) out.push({ swatch: { type: "badge", fillColor: BADGE_FILL, text: "3" }, label: () => t("loader.legend.places") });
  return out;
}

/** The legend entry of stacked points (shown when some are drawn). */
export function stackLegend(stacks) {
  return stacks ? [{ swatch: { type: "badge", fillColor: BADGE_FILL, text: "3" }, label: () => t("loader.legend.stacks") }] : [];
}
