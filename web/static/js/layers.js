// Leaflet layers for the workspace's own layers: one builder per layer, each returning the
// drawn group and its legend. All vector drawing goes to canvas (thousands of points).

/* global L */
import { t } from "./i18n.js";
import { choiceLabel } from "./format.js";
import { labelPoint, roughArea } from "./geometry.js";
import { bubbleLegend, clusterBubbles, stackLegend, stackedPoints } from "./stacks.js";
import * as S from "./styles.js";

/** Layers drawn when the page opens. */
export const DEFAULT_ON = ["community", "grids", "buildings", "streets", "facilities", "cameras"];

/** The swatch shown beside a layer in the panel (before and after its data loads). */
export function layerSwatch(name, geometry) {
  switch (name) {
    case "community":
      return { type: "line", ...S.COMMUNITY };
    case "grids":
      return { type: "fill", ...S.gridStyle(S.GRID_LEGEND_FILLS[0]) };
    case "buildings":
      return { type: "fill", ...S.BUILDING.residential };
    case "streets":
      return { type: "line", ...S.STREET.drive, weight: 2 };
    case "street_nodes":
      return { type: "point", ...S.STREET_NODE.node, radius: 3 };
    case "facilities":
      return { type: "ring", ...S.facilityStyle("police_post"), ringColor: S.FACILITY_COLOURS.police_post };
    case "cameras":
      return { type: "sector", fillColor: S.CAMERA_COLOURS.fixed, color: S.CAMERA_COLOURS.fixed };
    case "households":
      return { type: "point", ...S.householdStyle("plain"), radius: 3 };
    case "visits":
      return { type: "point", ...S.visitStyle("met") };
    case "incidents":
      return { type: "shape", ...S.incidentStyle("burglary", "open"), radius: 5 };
    default:
      if (geometry === "POINT") return { type: "point", fillColor: "#495057", radius: 3.5 };
      if (geometry === "LINESTRING") return { type: "line", color: "#495057", weight: 2 };
      return { type: "fill", fillColor: "#ced4da", color: "#495057", weight: 1 };
  }
}

function countBy(features, keyFn) {
  const counts = new Map();
  for (const f of features) {
    const k = keyFn(f.properties || {});
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  return counts;
}

/** Legend entries for each value of a categorical column present in the data, in schema order. */
function kindEntries(meta, column, counts, symbol) {
  const col = meta.columns.find((c) => c.name === column);
  const order = col?.choices ? [...col.choices] : [];
  for (const k of counts.keys()) if (!order.includes(k)) order.push(k);
  return order
    .filter((k) => counts.has(k))
    .map((k) => ({
      swatch: symbol(k),
      label: () => (k === null || k === undefined ? "—" : choiceLabel(meta.name, column, k)),
      count: counts.get(k),
    }));
}

function isPoint(f) {
  return f.geometry && f.geometry.type === "Point" && Array.isArray(f.geometry.coordinates);
}

/**
 * A point symbol drawn on the canvas renderer as a triangle, square, diamond, star or cross
 * (options.shape, see styles.shapePoints; "circle" or any other renderer: a circle). It is a
 * CircleMarker in every other way: hit test, bounds, events; thousands of them cost no DOM.
 */
export const ShapeMarker = L.CircleMarker.extend({
  options: { shape: "circle" },
  _updatePath() {
    const renderer = this._renderer;
    const pts = renderer instanceof L.Canvas ? S.shapePoints(this.options.shape, this._point.x, this._point.y, this._radius) : null;
    if (!pts) {
      renderer._updateCircle(this);
      return;
    }
    if (!renderer._drawing || this._empty()) return;
    const ctx = renderer._ctx;
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    renderer._fillStroke(ctx, this);
  },
});

/**
 * Point features as canvas markers in `styleFn(properties)`. With ctx.stack (the map's windowed
 * loading, loader.js), features on one coordinate become one stacked marker with a count badge
 * (stacks.js); without (?whole=1), one marker a feature. Returns {group, stacks}.
 */
function circles(features, styleFn, { renderer, stack }, Marker = L.CircleMarker) {
  const pointMarker = (f, latlng) => new Marker(latlng, { renderer, ...styleFn(f.properties || {}) });
  if (stack) return stackedPoints(features, { renderer, styleFn, pointMarker });
  const group = L.geoJSON({ type: "FeatureCollection", features }, { renderer, filter: (f) => Boolean(f.geometry), pointToLayer: pointMarker });
  return { group, stacks: 0 };
}

/** A label that stays put at `latlng` (grid and community names). */
function fixedLabel(latlng, content, className, priority) {
  const tip = L.tooltip({ permanent: true, direction: "center", className, interactive: false, opacity: 1 });
  tip.setLatLng(latlng).setContent(content);
  tip.gmPriority = priority;
  return tip;
}

function gridLabel(p, short, community) {
  const box = document.createElement("div");
  if (community) {
    // Shown when grids of more than one community are in view (see watchCommunities); the full
    // name, shown from zoom 17, already says it when it starts with the community's name.
    const c = document.createElement("div");
    c.className = "grid-label-community";
    if (p.name && p.name.startsWith(community)) c.classList.add("grid-label-in-name");
    c.textContent = community;
    box.append(c);
  }
  const full = document.createElement("div");
  full.className = "grid-label-name";
  full.textContent = p.name || "";
  box.append(full);
  if (short && short !== p.name) {
    full.classList.add("grid-label-full");
    const s = document.createElement("div");
    s.className = "grid-label-name grid-label-short";
    s.textContent = short;
    box.append(s);
  }
  if (p.code) {
    const code = document.createElement("div");
    code.className = "grid-label-code";
    code.textContent = p.code;
    box.append(code);
  }
  return box;
}

/**
 * While `group` is on the map, mark the map's container `gm-many-communities` when the labels in
 * view belong to grids of more than one community (their labels then name the community).
 * `spots`: [{latlng, community}] of the grids' labels.
 */
function watchCommunities(map, group, spots) {
  const container = map.getContainer();
  const update = () => {
    const view = map.getBounds();
    const seen = new Set();
    for (const s of spots) if (s.community && view.contains(s.latlng)) seen.add(s.community);
    container.classList.toggle("gm-many-communities", seen.size > 1);
  };
  group.on("add", () => {
    map.on("moveend zoomend", update);
    update();
  });
  group.on("remove", () => {
    map.off("moveend zoomend", update);
    container.classList.remove("gm-many-communities");
  });
}

/**
 * Hide labels that would overlap a more important one (bigger area first). Call after the view
 * changes; `tips` are L.Tooltip objects with a gmPriority.
 */
export function declutter(tips) {
  const items = [];
  for (const tip of tips) {
    const el = tip.getElement();
    if (!el) continue;
    el.style.visibility = "";
    items.push({ el, priority: tip.gmPriority || 0 });
  }
  items.sort((a, b) => b.priority - a.priority);
  const placed = [];
  for (const it of items) {
    const r = it.el.getBoundingClientRect();
    if (!r.width) continue; // hidden at this zoom
    const clash = placed.some((q) => r.left < q.right + 6 && r.right + 6 > q.left && r.top < q.bottom + 2 && r.bottom + 2 > q.top);
    if (clash) it.el.style.visibility = "hidden";
    else placed.push(r);
  }
}

/** Points of a camera's view: a sector from bearing/fov/range, or a ring when fov ≥ 360°. */
export function cameraViewLatLngs(lat, lon, bearing, fov, range) {
  if (!(range > 0) || !(fov > 0)) return null;
  const mLat = 111320;
  const mLon = 111320 * Math.cos((lat * Math.PI) / 180);
  const at = (deg) => {
    const r = (deg * Math.PI) / 180;
    return [lat + (range * Math.cos(r)) / mLat, lon + (range * Math.sin(r)) / mLon];
  };
  if (fov >= 360) {
    const ring = [];
    for (let d = 0; d < 360; d += 5) ring.push(at(d));
    return ring;
  }
  if (bearing === null || bearing === undefined || Number.isNaN(Number(bearing))) return null;
  const start = Number(bearing) - fov / 2;
  const steps = Math.max(6, Math.ceil(fov / 4));
  const pts = [[lat, lon]];
  for (let i = 0; i <= steps; i++) pts.push(at(start + (fov * i) / steps));
  return pts;
}

const BUILDERS = {
  community(meta, fc, { renderer }) {
    const group = L.geoJSON(fc, { renderer, filter: (f) => Boolean(f.geometry), style: () => ({ ...S.COMMUNITY }) });
    const labels = [];
    for (const f of fc.features) {
      const at = labelPoint(f.geometry);
      if (!at || !f.properties?.name) continue;
      const el = document.createElement("div");
      el.textContent = f.properties.name;
      labels.push(fixedLabel(at, el, "community-label", roughArea(f.geometry)));
    }
    labels.forEach((l) => group.addLayer(l));
    return { group, labels, legend: () => [{ swatch: { type: "line", ...S.COMMUNITY }, label: () => t("legend.community") }] };
  },

  grids(meta, fc, { map, renderer, related }) {
    const feats = [...fc.features].filter((f) => f.geometry);
    feats.sort((a, b) => String(a.properties?.code ?? "").localeCompare(String(b.properties?.code ?? "")));
    const keyOf = (f) => f.id ?? f.properties?.code;
    const boxes = feats.map((f) => ({ key: keyOf(f), bounds: L.geoJSON(f).getBounds() }));
    const colours = S.gridColours(boxes);
    // "洪武北路社区第1网格" inside 洪武北路社区 reads "第1网格" at mid zoom.
    const communityName = new Map((related?.community?.features || []).map((c) => [c.properties?.code, c.properties?.name]));
    const shortName = (p) => {
      const c = communityName.get(p.community_code);
      return c && p.name && p.name.startsWith(c) && p.name.length > c.length ? p.name.slice(c.length) : p.name;
    };
    const group = L.geoJSON({ type: "FeatureCollection", features: feats }, { renderer, style: (f) => S.gridStyle(colours.get(keyOf(f))) });
    const labels = [];
    const spots = [];
    for (const f of feats) {
      const p = f.properties || {};
      const at = labelPoint(f.geometry);
      if (!at) continue;
      labels.push(fixedLabel(at, gridLabel(p, shortName(p), communityName.get(p.community_code)), "grid-label", roughArea(f.geometry)));
      spots.push({ latlng: L.latLng(at), community: p.community_code });
    }
    labels.forEach((l) => group.addLayer(l));
    watchCommunities(map, group, spots);
    return {
      group,
      labels,
      legend: () => [
        { swatch: { type: "fill", ...S.gridStyle(S.GRID_LEGEND_FILLS[1]) }, label: () => t("legend.grids"), count: feats.length },
        { swatch: { type: "label", text: "A" }, label: () => t("legend.grids.label") },
      ],
    };
  },

  buildings(meta, fc, { renderer }) {
    const cls = (p) => (p.residential === true || ["residential", "apartments", "house", "dormitory"].includes(p.building) ? "residential" : "other");
    const group = L.geoJSON(fc, { renderer, filter: (f) => Boolean(f.geometry), style: (f) => ({ ...S.BUILDING[cls(f.properties || {})] }) });
    const counts = countBy(fc.features, cls);
    return {
      group,
      legend: () =>
        ["residential", "other"]
          .filter((k) => counts.has(k))
          .map((k) => ({ swatch: { type: "fill", ...S.BUILDING[k] }, label: () => t(`legend.buildings.${k}`), count: counts.get(k) })),
    };
  },

  streets(meta, fc, { renderer }) {
    const cls = (p) => (p.drive === false || (p.drive == null && p.walk === true) ? "walk" : "drive");
    const group = L.geoJSON(fc, { renderer, filter: (f) => Boolean(f.geometry), style: (f) => ({ ...S.STREET[cls(f.properties || {})] }) });
    const counts = countBy(fc.features, cls);
    return {
      group,
      legend: () =>
        ["drive", "walk"]
          .filter((k) => counts.has(k))
          .map((k) => ({ swatch: { type: "line", ...S.STREET[k], weight: 2 }, label: () => t(`legend.streets.${k}`), count: counts.get(k) })),
    };
  },

  street_nodes(meta, fc, ctx) {
    const cls = (p) => (p.highway === "traffic_signals" ? "signals" : "node");
    const { group } = circles(fc.features, (p) => S.STREET_NODE[cls(p)], ctx);
    const counts = countBy(fc.features, cls);
    return {
      group,
      legend: () =>
        ["node", "signals"]
          .filter((k) => counts.has(k))
          .map((k) => ({ swatch: { type: "point", ...S.STREET_NODE[k] }, label: () => t(`legend.street_nodes.${k}`), count: counts.get(k) })),
    };
  },

  facilities(meta, fc, { renderer }) {
    const group = L.featureGroup();
    // Ordinary facilities first, police posts last so they draw on top.
    const feats = fc.features.filter(isPoint);
    const ordered = [...feats.filter((f) => f.properties?.kind !== "police_post"), ...feats.filter((f) => f.properties?.kind === "police_post")];
    for (const f of ordered) {
      const [lon, lat] = f.geometry.coordinates;
      const kind = f.properties?.kind;
      if (kind === "police_post") {
        group.addLayer(L.circleMarker([lat, lon], { renderer, ...S.POLICE_RING }));
      }
      const m = L.circleMarker([lat, lon], { renderer, ...S.facilityStyle(kind) });
      m.feature = f;
      group.addLayer(m);
    }
    const counts = countBy(fc.features, (p) => p.kind);
    return {
      group,
      legend: () =>
        kindEntries(meta, "kind", counts, (k) =>
          k === "police_post"
            ? { type: "ring", ...S.facilityStyle(k), ringColor: S.FACILITY_COLOURS.police_post }
            : { type: "point", ...S.facilityStyle(k) },
        ),
    };
  },

  cameras(meta, fc, { renderer }) {
    const group = L.featureGroup();
    const feats = fc.features.filter(isPoint);
    // Views first (underneath), then the camera points on top.
    for (const f of feats) {
      const p = f.properties || {};
      const [lon, lat] = f.geometry.coordinates;
      const ring = cameraViewLatLngs(lat, lon, p.bearing_deg, Number(p.fov_deg), Number(p.range_m));
      if (ring) {
        const sector = L.polygon(ring, { renderer, ...S.cameraSectorStyle(p.kind), gmRole: "view" });
        sector.feature = f;
        group.addLayer(sector);
      }
    }
    for (const f of feats) {
      const [lon, lat] = f.geometry.coordinates;
      const m = L.circleMarker([lat, lon], { renderer, ...S.CAMERA_POINT, gmRole: "camera" });
      m.feature = f;
      group.addLayer(m);
    }
    const counts = countBy(fc.features, (p) => p.kind);
    return {
      group,
      legend: () => [
        { swatch: { type: "point", ...S.CAMERA_POINT }, label: () => t("legend.cameras.point"), count: feats.length },
        ...kindEntries(meta, "kind", counts, (k) => ({ type: "sector", fillColor: S.cameraSectorStyle(k).fillColor, color: S.cameraSectorStyle(k).color })).map((e) => ({
          ...e,
          label: () => t("legend.cameras.view", { kind: e.label() }),
        })),
      ],
    };
  },

  households(meta, fc, ctx) {
    // Priority households drawn last so they are not hidden under ordinary ones.
    const rank = { plain: 0, rented: 1, care: 2 };
    const feats = [...fc.features].sort((a, b) => rank[S.householdClass(a.properties || {})] - rank[S.householdClass(b.properties || {})]);
    const { group, stacks } = circles(feats, (p) => S.householdStyle(S.householdClass(p)), ctx);
    const counts = countBy(fc.features, S.householdClass);
    // For roles that may not see personal data the hardship, disability, assistance and
    // elderly-alone flags arrive empty: the priority class then holds only the public groups.
    const masked = fc.features.length > 0 && fc.features.every((f) => f.properties?.hardship == null);
    const key = (k) => (k === "care" && masked ? "legend.households.care_masked" : `legend.households.${k}`);
    return {
      group,
      legend: () => [
        ...["plain", "rented", "care"]
          .filter((k) => counts.has(k))
          .map((k) => ({ swatch: { type: "point", ...S.householdStyle(k), radius: 3.5 }, label: () => t(key(k)), count: counts.get(k) })),
        ...stackLegend(stacks),
      ],
    };
  },

  visits(meta, fc, ctx) {
    const { group, stacks } = circles(fc.features, (p) => S.visitStyle(p.outcome), ctx);
    const counts = countBy(fc.features, (p) => p.outcome);
    return { group, legend: () => [...kindEntries(meta, "outcome", counts, (k) => ({ type: "point", ...S.visitStyle(k) })), ...stackLegend(stacks)] };
  },

  incidents(meta, fc, ctx) {
    const feats = [...fc.features].sort((a, b) => (a.properties?.status === "closed" ? 0 : 1) - (b.properties?.status === "closed" ? 0 : 1));
    const { group } = circles(feats, (p) => S.incidentStyle(p.kind, p.status), ctx, ShapeMarker);
    const counts = countBy(fc.features, (p) => p.kind);
    const closed = fc.features.filter((f) => f.properties?.status === "closed").length;
    return {
      group,
      legend: () => [
        ...kindEntries(meta, "kind", counts, (k) => ({ type: "shape", ...S.incidentStyle(k, "open") })),
        ...(closed ? [{ swatch: { type: "shape", ...S.incidentStyle("burglary", "closed") }, label: () => t("legend.incidents.closed"), count: closed }] : []),
      ],
    };
  },
};

function genericBuilder(meta, fc, { renderer }) {
  const sw = layerSwatch(meta.name, meta.geometry);
  const group = L.geoJSON(fc, {
    renderer,
    filter: (f) => Boolean(f.geometry),
    style: () => ({ color: sw.color || "#495057", weight: sw.weight || 1.5, fillColor: sw.fillColor, fillOpacity: 0.4 }),
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { renderer, radius: 3.5, fillColor: "#495057", color: "#fff", weight: 1, fillOpacity: 0.9 }),
  });
  return { group, legend: () => [{ swatch: sw, label: () => "", count: fc.features.length }] };
}

/** Build the Leaflet layer of workspace layer `meta` from its GeoJSON. */
export function buildOverlay(meta, fc, ctx) {
  const builder = BUILDERS[meta.name] || genericBuilder;
  const built = builder(meta, fc, ctx);
  built.group.gmLayer = meta.name;
  return built;
}

/** The point symbol of a stack whose features the map has not loaded (bubbles' places). */
const PLACE_STYLES = { households: () => S.householdStyle("plain"), visits: () => S.visitStyle("met") };

/** Build the bubbles of point layer `meta` from a clusters reply (stacks.js). */
export function buildClusters(meta, doc, ctx) {
  const fillColor = meta.name === "households" ? S.HOUSEHOLD_COLOURS.care : layerSwatch(meta.name, meta.geometry).color || layerSwatch(meta.name, meta.geometry).fillColor;
  const drawn = clusterBubbles(doc, { ...ctx, fillColor, styleFn: PLACE_STYLES[meta.name] });
  drawn.group.gmLayer = meta.name;
  return { group: drawn.group, bubbles: drawn, legend: () => bubbleLegend(drawn, fillColor, doc.numberMatched) };
}

/** The features of a built group that carry data (not halos), for counting. */
export function dataLayers(group) {
  return group.getLayers().filter((l) => l.feature);
}

