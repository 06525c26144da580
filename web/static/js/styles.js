// Colours and symbols. One place for the palette so that the map, the layer panel swatches and
// the legend always agree.

export const ACCENT = "#e6007e"; // the picked feature and the selection (magenta: no layer uses it)

export const BASEMAP = {
  background: "#f4f1ec",
  building: { fillColor: "#e3dfd8", color: "#d3cdc3", weight: 0.6, fillOpacity: 1, opacity: 1 },
};

/**
 * Road classes of the workspace basemap, drawn bottom (minor) to top (major). `width` is the fill
 * width in pixels at zoom 16; `casing` (when set) is drawn underneath, 1.5 px wider each side.
 */
export const ROAD_CLASSES = [
  { id: "path", match: ["footway", "path", "pedestrian", "steps", "cycleway", "track", "bridleway", "corridor"], width: 1.2, color: "#b7a78c", dash: "3 3" },
  { id: "service", match: ["service", "living_street"], width: 2.5, color: "#ffffff", casing: "#d3cdc2" },
  { id: "minor", match: ["residential", "unclassified", "road"], width: 4, color: "#ffffff", casing: "#cdc6b9" },
  { id: "tertiary", match: ["tertiary", "tertiary_link"], width: 5.5, color: "#fffdf4", casing: "#c4b9a2" },
  { id: "secondary", match: ["secondary", "secondary_link"], width: 7, color: "#fbe3a8", casing: "#d2ac5e" },
  { id: "primary", match: ["primary", "primary_link", "trunk", "trunk_link", "motorway", "motorway_link"], width: 8.5, color: "#f8cf7c", casing: "#c99636" },
];
const ROAD_BY_TAG = new Map();
ROAD_CLASSES.forEach((c, rank) => c.match.forEach((tag) => ROAD_BY_TAG.set(tag, { ...c, rank })));

/** The basemap road class of an OSM highway tag (osmnx may give a list: use the first). */
export function roadClass(highway) {
  let tag = Array.isArray(highway) ? highway[0] : highway;
  if (typeof tag === "string" && tag.startsWith("[")) {
    try {
      tag = JSON.parse(tag.replace(/'/g, '"'))[0];
    } catch {
      /* keep as is */
    }
  }
  return ROAD_BY_TAG.get(tag) || { ...ROAD_CLASSES[2], rank: 2 };
}

/** How much wider roads get as one zooms in (1 at zoom 16). */
export function roadScale(zoom) {
  return Math.min(3, Math.max(0.45, 2 ** ((zoom - 16) * 0.75)));
}

export const COMMUNITY = { color: "#1f3354", weight: 4, opacity: 0.9, fill: false, lineJoin: "round" };

const GRID_PALETTE = [
  "#8fb8de", "#f2b880", "#a8d5a2", "#d7a9d6", "#f6d186",
  "#9fd3c7", "#e8a6a6", "#b5b8e6", "#c9d99a", "#e6c2a0",
];

function darken(hex, f = 0.45) {
  const n = parseInt(hex.slice(1), 16);
  const ch = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => Math.round(v * (1 - f)));
  return `#${ch.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

/** Give each grid a palette colour that its neighbours (touching bounding boxes) don't have. */
export function gridColours(grids) {
  // grids: [{key, bounds: L.LatLngBounds}] in code order
  const colours = new Map();
  grids.forEach((g, i) => {
    const near = g.bounds.pad(0.02);
    const used = new Set();
    for (const other of grids) {
      if (other !== g && colours.has(other.key) && near.intersects(other.bounds)) {
        used.add(colours.get(other.key));
      }
    }
    let pick = GRID_PALETTE[i % GRID_PALETTE.length];
    for (let k = 0; k < GRID_PALETTE.length && used.has(pick); k++) {
      pick = GRID_PALETTE[(i + k + 1) % GRID_PALETTE.length];
    }
    colours.set(g.key, pick);
  });
  return colours;
}

export function gridStyle(fill) {
  return { fillColor: fill, fillOpacity: 0.24, color: darken(fill, 0.25), weight: 1.1, opacity: 0.85 };
}
export const GRID_LEGEND_FILLS = GRID_PALETTE.slice(0, 3);

export const BUILDING = {
  residential: { fillColor: "#f1d3b3", color: "#b98b5e", weight: 0.8, fillOpacity: 0.9, opacity: 0.9 },
  other: { fillColor: "#d3dbe5", color: "#8797ab", weight: 0.8, fillOpacity: 0.9, opacity: 0.9 },
};

export const STREET = {
  drive: { color: "#4a5d78", weight: 1.4, opacity: 0.75, lineCap: "round" },
  walk: { color: "#3f8f5a", weight: 1.4, opacity: 0.85, dashArray: "4 4", lineCap: "butt" },
};

export const STREET_NODE = {
  node: { radius: 2.5, fillColor: "#868e96", color: "#ffffff", weight: 0.8, fillOpacity: 1 },
  signals: { radius: 3.5, fillColor: "#343a40", color: "#ffffff", weight: 1.2, fillOpacity: 1 },
};

// The point layers' palettes are disjoint and kept apart by hue, so that one colour never means
// two things (a burglary here, a community office there): facilities are blues and slates (white
// rim), incidents reds, oranges, yellows and browns (dark rim, and a shape per kind), camera views
// greens, visits violets (hollow rings) and households teals and a grey-green. The table is in
// docs/pick.md; tests/browser/test_pick.py checks the colours drawn on the map.

export const FACILITY_COLOURS = {
  police_post: "#1d3f8f",
  community_office: "#4c6ef5",
  government: "#6a5acd",
  school: "#1c7ed6",
  kindergarten: "#74c0fc",
  library: "#0b5ea8",
  culture: "#4dabf7",
  hospital: "#3b5bdb",
  clinic: "#8c9eea",
  pharmacy: "#b3c0f2",
  bank: "#34495e",
  shop: "#5b7290",
  restaurant: "#7a93c2",
  market: "#2b4a73",
  parking: "#2d6a9f",
  entrance: "#b4bccb",
  light: "#d0d9e8",
  toilets: "#5d8cbf",
  office: "#707b8f",
  other: "#8f98aa",
};

export function facilityStyle(kind) {
  if (kind === "police_post") {
    return { radius: 7.5, fillColor: FACILITY_COLOURS.police_post, color: "#ffffff", weight: 2.5, fillOpacity: 1, opacity: 1 };
  }
  const c = FACILITY_COLOURS[kind] || FACILITY_COLOURS.other;
  const radius = kind === "community_office" ? 6 : 4.5;
  return { radius, fillColor: c, color: "#ffffff", weight: kind === "community_office" ? 2 : 1.2, fillOpacity: 0.95, opacity: 1 };
}
/** The halo ring that makes police posts stand out. */
export const POLICE_RING = { radius: 12, color: "#1d3f8f", weight: 2, opacity: 0.8, fill: false, interactive: false };

export const CAMERA_COLOURS = { fixed: "#2f9e44", ptz: "#74b816", dome: "#0ca678" };
export function cameraSectorStyle(kind) {
  const c = CAMERA_COLOURS[kind] || "#69db7c";
  return { color: c, weight: 0.8, opacity: 0.7, fillColor: c, fillOpacity: 0.16, lineJoin: "round" };
}
export const CAMERA_POINT = { radius: 3.8, fillColor: "#212529", color: "#ffffff", weight: 1.5, fillOpacity: 1 };

export const HOUSEHOLD_COLOURS = { plain: "#7f9c96", rented: "#15aabf", care: "#087f8c" };
export const CARE_COLUMNS = ["hardship", "elderly_alone", "disabled", "migrant", "veteran_party_member", "assisted"];

/** Household class: priority (any of the six visit groups), rented, or plain. */
export function householdClass(p) {
  if (CARE_COLUMNS.some((c) => p[c] === true)) return "care";
  if (p.rented === true) return "rented";
  return "plain";
}
export function householdStyle(cls) {
  const radius = { plain: 2.3, rented: 2.8, care: 3.2 }[cls] ?? 2.3;
  return { radius, fillColor: HOUSEHOLD_COLOURS[cls], color: "#ffffff", weight: 0.5, fillOpacity: 0.95, opacity: 0.9 };
}

/** Visits are hollow rings in violets: the ring says "visit", the colour its outcome. */
export const VISIT_COLOURS = { met: "#7048e8", not_home: "#b197fc", refused: "#ae3ec9", issue_found: "#862e9c" };
export function visitStyle(outcome) {
  const c = VISIT_COLOURS[outcome] || "#9775fa";
  return { radius: 3.8, fillColor: "#ffffff", color: c, weight: outcome === "issue_found" ? 2.6 : 2, fillOpacity: 0.85, opacity: 1 };
}

export const INCIDENT_COLOURS = {
  burglary: "#e03131",
  vehicle_theft: "#f59f00",
  dispute: "#a0522d",
  theft: "#f76707",
  fire_hazard: "#ffd43b",
  other: "#6e4a35",
};
/** The canvas shape of each kind of incident (see {@link shapePoints}). */
export const INCIDENT_SHAPES = {
  burglary: "triangle",
  vehicle_theft: "square",
  dispute: "triangle_down",
  theft: "diamond",
  fire_hazard: "star",
  other: "cross",
};
export function incidentStyle(kind, status) {
  const c = INCIDENT_COLOURS[kind] || INCIDENT_COLOURS.other;
  const closed = status === "closed";
  return {
    shape: INCIDENT_SHAPES[kind] || INCIDENT_SHAPES.other,
    radius: 6,
    fillColor: c,
    color: closed ? c : "#212529",
    weight: closed ? 1.2 : 1,
    fillOpacity: closed ? 0.3 : 0.95,
    opacity: 1,
    lineJoin: "round",
  };
}

/**
 * The outline of a point symbol `shape` of size `r` around (x, y), as [[x, y], ...] in pixels
 * (y down), or null for a circle. Used by the canvas markers (layers.js) and the legend swatches,
 * so that both draw the same shapes.
 */
export function shapePoints(shape, x, y, r) {
  const ring = (n, radius, start) => Array.from({ length: n }, (_, i) => {
    const a = start + (2 * Math.PI * i) / n;
    return [x + radius * Math.cos(a), y + radius * Math.sin(a)];
  });
  switch (shape) {
    case "triangle":
      return ring(3, r * 1.15, -Math.PI / 2).map(([px, py]) => [px, py + r * 0.15]);
    case "triangle_down":
      return ring(3, r * 1.15, Math.PI / 2).map(([px, py]) => [px, py - r * 0.15]);
    case "square": {
      const h = r * 0.82;
      return [[x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h]];
    }
    case "diamond":
      return [[x, y - r * 1.1], [x + r * 0.85, y], [x, y + r * 1.1], [x - r * 0.85, y]];
    case "star": {
      const pts = [];
      for (let i = 0; i < 10; i++) {
        const a = -Math.PI / 2 + (Math.PI * i) / 5;
        const radius = i % 2 ? r * 0.5 : r * 1.2;
        pts.push([x + radius * Math.cos(a), y + radius * Math.sin(a)]);
      }
      return pts;
    }
    case "cross": {
      const a = r * 0.36;
      const b = r * 0.95;
      return [[x - a, y - b], [x + a, y - b], [x + a, y - a], [x + b, y - a], [x + b, y + a], [x + a, y + a], [x + a, y + b], [x - a, y + b], [x - a, y + a], [x - b, y + a], [x - b, y - a], [x - a, y - a]];
    }
    default:
      return null;
  }
}

// ---- the picked feature and the selection (chooser.js) ----

/** The picked feature: a magenta outline on a white casing (no data layer uses magenta). */
export const PICK = {
  casing: { color: "#ffffff", weight: 7, opacity: 0.95, fill: false, lineCap: "round", lineJoin: "round", interactive: false },
  line: { color: ACCENT, weight: 3.5, opacity: 1, fill: false, lineCap: "round", lineJoin: "round", interactive: false },
  view: { color: ACCENT, weight: 2.5, opacity: 1, fillColor: ACCENT, fillOpacity: 0.12, dashArray: "5 4", interactive: false },
};
/** What a selected grid holds: a soft magenta fill and outline on the members, the grid dashed. */
export const SELECTION = {
  area: { color: ACCENT, weight: 3, opacity: 0.85, fillColor: ACCENT, fillOpacity: 0.07, dashArray: "8 5", interactive: false },
  member: { color: ACCENT, weight: 1.2, opacity: 0.8, fillColor: ACCENT, fillOpacity: 0.14, interactive: false },
  point: { color: ACCENT, weight: 1.6, opacity: 0.9, fill: false, interactive: false },
};

// ---- legend swatches (inline SVG, 22 x 14) ----

const SVG_NS = "http://www.w3.org/2000/svg";

function el(name, attrs) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  return e;
}

/**
 * Draw a swatch. spec.type: "fill" (polygon), "line", "road" (cased line), "point", "ring"
 * (point with halo), "shape" (a point symbol of spec.shape, see shapePoints), "sector" (camera
 * view), "label" (text sample).
 */
export function swatch(spec) {
  const svg = el("svg", { width: 22, height: 14, viewBox: "0 0 22 14", "aria-hidden": "true", class: "swatch" });
  switch (spec.type) {
    case "fill":
      svg.append(el("rect", { x: 1.5, y: 1.5, width: 19, height: 11, rx: 1.5, fill: spec.fillColor || "none", "fill-opacity": spec.fillOpacity ?? 1, stroke: spec.color || "none", "stroke-width": Math.min(spec.weight ?? 1, 3) }));
      break;
    case "line":
      svg.append(el("line", { x1: 1, y1: 7, x2: 21, y2: 7, stroke: spec.color, "stroke-width": Math.max(1.4, Math.min(spec.weight ?? 1.5, 4)), "stroke-dasharray": spec.dashArray || spec.dash, "stroke-linecap": "round" }));
      break;
    case "road":
      if (spec.casing) svg.append(el("line", { x1: 0, y1: 7, x2: 22, y2: 7, stroke: spec.casing, "stroke-width": Math.min(spec.width + 3, 10) }));
      svg.append(el("line", { x1: 0, y1: 7, x2: 22, y2: 7, stroke: spec.color, "stroke-width": Math.min(spec.width, 7), "stroke-dasharray": spec.dash }));
      break;
    case "point":
    case "ring":
      if (spec.type === "ring") svg.append(el("circle", { cx: 11, cy: 7, r: 6.2, fill: "none", stroke: spec.ringColor || spec.fillColor, "stroke-width": 1.4 }));
      svg.append(el("circle", { cx: 11, cy: 7, r: Math.min(spec.radius ?? 4, spec.type === "ring" ? 3.6 : 5.5), fill: spec.fillColor, "fill-opacity": spec.fillOpacity ?? 1, stroke: spec.color || "#fff", "stroke-width": Math.min(spec.weight ?? 1, 1.5) }));
      break;
    case "shape": {
      const pts = shapePoints(spec.shape, 11, 7, Math.min(spec.radius ?? 5, 5.2));
      const attrs = { fill: spec.fillColor, "fill-opacity": spec.fillOpacity ?? 1, stroke: spec.color || "#212529", "stroke-width": Math.min(spec.weight ?? 1, 1.5), "stroke-linejoin": "round" };
      if (pts) svg.append(el("polygon", { points: pts.map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`).join(" "), ...attrs }));
      else svg.append(el("circle", { cx: 11, cy: 7, r: Math.min(spec.radius ?? 4, 5.5), ...attrs }));
      break;
    }
    case "sector":
      svg.append(el("path", { d: "M4 12 L19 3.5 A 15 15 0 0 1 19 12.5 Z", fill: spec.fillColor, "fill-opacity": 0.35, stroke: spec.color, "stroke-width": 1 }));
      svg.append(el("circle", { cx: 4, cy: 12, r: 2, fill: "#212529" }));
      break;
    case "badge": {
      // a count badge (stacked points, bubbles: stacks.js)
      svg.append(el("circle", { cx: 11, cy: 7, r: 6.5, fill: spec.fillColor || "#1f2d3d", stroke: "#fff", "stroke-width": 1 }));
      const n = el("text", { x: 11, y: 10, "text-anchor": "middle", "font-size": 8, "font-weight": 700, fill: "#fff" });
      n.textContent = spec.text || "3";
      svg.append(n);
      break;
    }
    case "label": {
      const text = el("text", { x: 11, y: 11, "text-anchor": "middle", "font-size": 10, "font-weight": 700, fill: "#343a40" });
      text.textContent = spec.text || "A";
      svg.append(text);
      break;
    }
    default:
      break;
  }
  return svg;
}
