// The default base map, drawn from the workspace's own streets and buildings: always available,
// needs no tile server and no internet. Non-interactive; it sits in its own pane and canvas
// below every data layer.

/* global L */
import { t } from "./i18n.js";
import { BASEMAP, ROAD_CLASSES, roadClass, roadScale } from "./styles.js";

export const BASEMAP_ID = "workspace";

export class WorkspaceBasemap {
  constructor(map) {
    this.map = map;
    const pane = map.createPane("gm-basemap");
    pane.style.zIndex = 250; // above tiles (200), below overlays (400)
    pane.style.pointerEvents = "none";
    this.renderer = L.canvas({ pane: "gm-basemap", padding: 0.5 });
    this.group = L.layerGroup();
    this.roads = []; // [{layer, cls, casing}]
    this.ready = false;
    this.group.on("add", () => {
      map.getContainer().classList.add("gm-basemap-on");
      this.restyle();
    });
    this.group.on("remove", () => map.getContainer().classList.remove("gm-basemap-on"));
    map.on("zoomend", () => {
      if (map.hasLayer(this.group)) this.restyle();
    });
  }

  /** Draw from the streets and buildings FeatureCollections. */
  setData(streets, buildings) {
    const renderer = this.renderer;
    this.group.clearLayers();
    this.roads = [];
    if (buildings) {
      this.group.addLayer(
        L.geoJSON(buildings, {
          renderer,
          interactive: false,
          filter: (f) => Boolean(f.geometry),
          style: () => ({ ...BASEMAP.building, interactive: false }),
        }),
      );
    }
    if (streets) {
      // osmnx gives each two-way street once per direction: draw each once.
      const seen = new Set();
      const lines = [];
      for (const f of streets.features) {
        if (!f.geometry) continue;
        const p = f.properties || {};
        if (p.u !== undefined && p.v !== undefined) {
          const key = [Math.min(p.u, p.v), Math.max(p.u, p.v), p.key ?? 0].join("/");
          if (seen.has(key)) continue;
          seen.add(key);
        }
        lines.push({ f, cls: roadClass(p.highway) });
      }
      lines.sort((a, b) => a.cls.rank - b.cls.rank);
      const coordsOf = (f) => L.GeoJSON.coordsToLatLngs(f.geometry.coordinates, f.geometry.type === "MultiLineString" ? 1 : 0);
      // All casings first, then all fills, minor to major: junctions merge cleanly.
      for (const { f, cls } of lines) {
        if (!cls.casing) continue;
        const layer = L.polyline(coordsOf(f), { renderer, interactive: false, color: cls.casing, lineCap: "round", lineJoin: "round" });
        this.roads.push({ layer, cls, casing: true });
        this.group.addLayer(layer);
      }
      for (const { f, cls } of lines) {
        const layer = L.polyline(coordsOf(f), {
          renderer,
          interactive: false,
          color: cls.color,
          dashArray: cls.dash,
          lineCap: cls.dash ? "butt" : "round",
          lineJoin: "round",
        });
        this.roads.push({ layer, cls, casing: false });
        this.group.addLayer(layer);
      }
    }
    this.ready = true;
    this.restyle();
  }

  /** Road widths follow the zoom level. */
  restyle() {
    const k = roadScale(this.map.getZoom());
    for (const { layer, cls, casing } of this.roads) {
      const w = cls.dash ? Math.max(1, cls.width * Math.min(k, 1.6)) : Math.max(0.8, cls.width * k);
      layer.setStyle({ weight: casing ? w + 3 : w });
    }
  }

  /** Legend entries of the base map. */
  legend() {
    const byId = Object.fromEntries(ROAD_CLASSES.map((c) => [c.id, c]));
    return [
      { swatch: { type: "road", ...byId.primary }, label: () => t("legend.base.major") },
      { swatch: { type: "road", ...byId.minor }, label: () => t("legend.base.minor") },
      { swatch: { type: "road", ...byId.service }, label: () => t("legend.base.service") },
      { swatch: { type: "road", ...byId.path }, label: () => t("legend.base.path") },
      { swatch: { type: "fill", ...BASEMAP.building }, label: () => t("legend.base.building") },
    ];
  }
}
