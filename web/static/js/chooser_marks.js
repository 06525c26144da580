// The chooser's marks on the map (chooser.js): the picked feature's highlight (an outline on a
// white casing, a ring around a point, a camera's view sector too) and the selection (a soft fill
// and outline on each member). Both are drawn from copies of the features' shapes on canvases of
// their own, in panes above the data layers that let every click through, so that the data
// layers keep their styles and the marks survive a layer being redrawn.

/* global L */
import { cameraViewLatLngs } from "./layers.js";
import { PICK, SELECTION } from "./styles.js";

function pane(map, name, zIndex) {
  const el = map.getPane(name) || map.createPane(name);
  el.style.zIndex = String(zIndex);
  el.style.pointerEvents = "none";
  return name;
}

function pointOf(target, feature) {
  if (target?.getLatLng) return target.getLatLng();
  const c = feature?.geometry?.type === "Point" ? feature.geometry.coordinates : null;
  return c ? L.latLng(c[1], c[0]) : null;
}

function cameraView(feature) {
  const p = feature.properties || {};
  const at = pointOf(null, feature);
  if (!at) return null;
  return cameraViewLatLngs(at.lat, at.lng, p.bearing_deg, Number(p.fov_deg), Number(p.range_m));
}

export class Marks {
  constructor(map) {
    this.map = map;
    const selPane = pane(map, "gmSelectionPane", 440);
    const pickPane = pane(map, "gmPickPane", 460);
    this.selRenderer = L.canvas({ pane: selPane, padding: 0.5 });
    this.pickRenderer = L.canvas({ pane: pickPane, padding: 0.5 });
    this.selection = L.layerGroup([], { pane: selPane }).addTo(map);
    this.pick = L.layerGroup([], { pane: pickPane }).addTo(map);
    this.picked = null; // {layer, feature} of the highlight, for tests and tools
  }

  /** Highlight hit {layer, feature, target} (see chooser_hits.hitsAt); replaces the last one. */
  showPick(hit) {
    this.clearPick();
    const renderer = this.pickRenderer;
    const { target, feature } = hit;
    const add = (layer) => this.pick.addLayer(layer);
    const isPoint = !target || target instanceof L.CircleMarker || target instanceof L.Marker || hit.layer === "cameras";
    if (hit.layer === "cameras") {
      const view = cameraView(feature);
      if (view) add(L.polygon(view, { renderer, ...PICK.view }));
    }
    if (isPoint) {
      const at = pointOf(hit.layer === "cameras" ? null : target, feature);
      if (at) {
        const r = (target?._radius || 5) + 4;
        add(L.circleMarker(at, { renderer, ...PICK.casing, radius: r, weight: 5 }));
        add(L.circleMarker(at, { renderer, ...PICK.line, radius: r, weight: 2.5 }));
      }
    } else {
      const Shape = target instanceof L.Polygon ? L.polygon : L.polyline;
      add(Shape(target.getLatLngs(), { renderer, ...PICK.casing }));
      add(Shape(target.getLatLngs(), { renderer, ...PICK.line }));
    }
    this.picked = { layer: hit.layer, id: feature.id ?? null, marks: this.pick.getLayers().length };
  }

  clearPick() {
    this.pick.clearLayers();
    this.picked = null;
  }

  /**
   * Draw the selection: `members` maps a layer name to the drawn Leaflet layers of its selected
   * features (only layers on the map). Grids get a dashed outline, other areas and lines a soft
   * fill, points a ring.
   */
  showSelection(members) {
    this.selection.clearLayers();
    const renderer = this.selRenderer;
    let n = 0;
    for (const [name, layers] of members) {
      for (const l of layers) {
        n += 1;
        if (l instanceof L.CircleMarker || l instanceof L.Marker) {
          const at = l.getLatLng();
          this.selection.addLayer(L.circleMarker(at, { renderer, ...SELECTION.point, radius: (l._radius || 4) + 2.5 }));
        } else if (l instanceof L.Polygon) {
          this.selection.addLayer(L.polygon(l.getLatLngs(), { renderer, ...(name === "grids" ? SELECTION.area : SELECTION.member) }));
        } else if (l instanceof L.Polyline) {
          this.selection.addLayer(L.polyline(l.getLatLngs(), { renderer, ...SELECTION.member, weight: 4, opacity: 0.6 }));
        }
      }
    }
    return n;
  }

  clearSelection() {
    this.selection.clearLayers();
  }
}
