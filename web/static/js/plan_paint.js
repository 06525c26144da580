// Painting grids (a mixin of planning.js's PlanTool): street blocks or buildings picked by a
// click or a lasso move into the chosen grid (one "paint" operation); and the guides the editor
// snaps to — the view's streets and building outlines, loaded when a drawing tool starts.

import { describeError, getJSON } from "./api.js";
import { t } from "./i18n.js";
import { pointInGeometry, viewBbox } from "./plan_map.js";

/** Below this zoom the view holds too many buildings to paint or snap to one by one. */
export const DETAIL_ZOOM = 16;

export const Painting = {
  setPaintTarget(code) {
    this.paintTo = code;
    const select = document.getElementById("plan-paint-to");
    if (select && select.value !== code) select.value = code;
    this.state.selected = [code];
    this.plan.restyle();
    this.plan.get(code)?.bringToFront();
    this.card.setSelected(this.state.selected, this.state.grids);
    this.blockLayer.group.bringToFront();
    this.buildingLayer.group.bringToFront();
  },

  async startPaintBlocks() {
    if (this.state.selected.length) this.paintTo = this.state.selected[0];
    await this.busy(
      getJSON("api/grids/blocks")
        .then((fc) => {
          if (this.state.tool !== "paint-blocks") return;
          this.blocks = fc.features;
          this.blockLayer.set(fc.features);
          this.blockLayer.show(true);
          this.blockLayer.group.bringToFront();
        })
        .catch((err) => this.card.say("error", describeError(err))),
    );
  },

  async startPaintBuildings() {
    if (this.state.selected.length) this.paintTo = this.state.selected[0];
    await this.loadBuildings();
  },

  async loadBuildings() {
    if (this.state.tool !== "paint-buildings") return;
    if (this.map.getZoom() < DETAIL_ZOOM) {
      this.buildingLayer.set([]);
      this.card.say("info", t("plan.zoom_in"));
      return;
    }
    await this.busy(
      getJSON(`api/layers/buildings?bbox=${viewBbox(this.map, 0.1)}&limit=5000`)
        .then((fc) => {
          if (this.state.tool !== "paint-buildings") return;
          this.buildingLayer.set(fc.features);
          this.buildingLayer.show(true);
          this.buildingLayer.group.bringToFront();
        })
        .catch((err) => this.card.say("error", describeError(err))),
    );
  },

  togglePick(id) {
    if (this.picked.has(id)) this.picked.delete(id);
    else this.picked.add(id);
    (this.state.tool === "paint-blocks" ? this.blockLayer : this.buildingLayer).restyleOne(id);
    this.showActions();
  },

  lassoPick(geometry) {
    const layer = this.state.tool === "paint-blocks" ? this.blockLayer : this.buildingLayer;
    for (const [id, l] of layer.byKey) {
      const c = l.getCenter();
      if (pointInGeometry(c.lng, c.lat, geometry)) this.picked.add(id);
    }
    layer.restyle();
    this.showActions();
  },

  clearPicked() {
    this.picked.clear();
    this.blockLayer.restyle();
    this.buildingLayer.restyle();
    this.showActions();
  },

  paint() {
    const to = this.paintTo;
    if (!to || !this.picked.size) return;
    const ids = [...this.picked].map(Number);
    const op = this.state.tool === "paint-blocks" ? { op: "paint", to, blocks: ids } : { op: "paint", to, buildings: ids };
    this.picked.clear();
    this.edit(op).then(() => {
      if (this.state.tool === "paint-blocks") this.startPaintBlocks();
      else this.loadBuildings();
      this.showActions();
    });
  },

  viewMoved() {
    if (!this.card.open) return;
    if (this.state.tool === "paint-buildings") this.loadBuildings();
    if (this.guides.group && this.map.hasLayer(this.guides.group)) this.showGuides();
  },

  /** Streets and building outlines of the view, for the editor to snap to. */
  async showGuides() {
    if (this.map.getZoom() < DETAIL_ZOOM - 1) {
      this.guides.show(false);
      return;
    }
    const bbox = viewBbox(this.map, 0.3);
    if (bbox === this.guideBox && this.map.hasLayer(this.guides.group)) return;
    this.guideBox = bbox;
    try {
      const [streets, buildings] = await Promise.all([getJSON(`api/layers/streets?bbox=${bbox}&limit=5000`), getJSON(`api/layers/buildings?bbox=${bbox}&limit=5000`)]);
      const tag = (fc, layer) => fc.features.map((f) => ({ ...f, properties: { layer } }));
      this.guides.set([...tag(streets, "streets"), ...tag(buildings, "buildings")]);
      for (const l of this.guides.byKey.values()) l.options.snapIgnore = false;
      this.guides.show(true);
      this.guides.group.bringToBack();
    } catch (err) {
      this.card.say("error", describeError(err));
    }
  },

};
