// Painting grids (a mixin of planning.js's PlanTool): street blocks or buildings picked by a
// click or a lasso move into the chosen grid (one "paint" operation); and the guides the editor
// snaps to — the view's streets and building outlines, loaded when a drawing tool starts.
// A block's id is its place in a list the streets number: a paint of blocks sends the stamp
// they came with, and when the streets or a community boundary changed since, the server
// refuses it (409 blocks_changed) and plan_edit.js loads the blocks again.

import { describeError, getJSON, postJSON } from "./api.js";
import { t, tn } from "./i18n.js";
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
          this.blocksStamp = fc.stamp;
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
    // blocks are numbered; buildings come with the ids the map was given (text for every role
    // but the admin), sent back as they are
    const picked = [...this.picked];
    const fid = (k) => this.buildingLayer.byKey.get(k)?.feature?.id ?? k;
    const op = this.state.tool === "paint-blocks" ? { op: "paint", to, blocks: picked.map(Number), stamp: this.blocksStamp } : { op: "paint", to, buildings: picked.map(fid) };
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


  // ---- a rebalance proposal: the fewest block moves into the range ----
  async proposeRebalance() {
    const { min, max } = this.range;
    const households = (min + max) / 2;
    const tolerance = max + min > 0 ? (max - min) / (max + min) : 0;
    const params = new URLSearchParams({ households, tolerance });
    const doc = await this.busy(getJSON(`api/grids/rebalance?${params}`)).catch((err) => {
      this.card.say("error", describeError(err));
      return null;
    });
    if (!doc) return;
    if (!doc.moves.length) { // nothing to apply: the note, and no Apply button
      this.proposal = null;
      this.card.setActions([]);
      const key = doc.outside_before ? "plan.rebalance_no_gain" : "plan.rebalance_none";
      this.card.say(doc.outside_before ? "info" : "ok", t(key, { n: doc.outside_before }));
      return;
    }
    this.setTool("paint-blocks");
    await this.idle();
    this.proposal = doc;
    for (const m of doc.moves) this.picked.add(String(m.block));
    this.blockLayer.restyle();
    this.card.setActions([
      { id: "plan-rebalance-apply", key: doc.moves.length === 1 ? "plan.rebalance_apply.one" : "plan.rebalance_apply", vars: { n: doc.moves.length }, primary: true, run: () => this.applyRebalance() },
      { id: "plan-rebalance-discard", key: "plan.rebalance_discard", run: () => this.setTool("select") },
    ]);
    const towers = doc.towers.length ? ` ${t("plan.rebalance_towers", { codes: doc.towers.join(", ") })}` : "";
    this.card.say("info", tn("plan.rebalance_shown", doc.moves.length, { before: doc.outside_before, after: doc.outside_after }) + towers);
  },

  /**
   * Apply the proposal: all its moves in one request (POST api/grids/rebalance/apply), which
   * the server writes in one transaction — all or nothing, one version, one undo.
   */
  async applyRebalance() {
    const doc = this.proposal;
    if (!doc) return;
    this.proposal = null;
    this.setTool("select");
    const run = async () => {
      try {
        const body = { moves: doc.moves, versions: doc.versions || {}, stamp: doc.stamp ?? null };
        const reply = await postJSON("api/grids/rebalance/apply", body);
        this.depth = reply.depth || this.depth;
        if (!reply.applied) {
          this.card.say("info", t("plan.rebalance_nothing"));
          return;
        }
        const before = this.boundsNow();
        this.drawChanged(reply.grids.features, []);
        this.afterSelection();
        this.card.say("ok", tn("plan.rebalance_done", reply.applied));
        await Promise.all([this.refreshChecks(this.touched(reply, before)), this.refreshVersions()]);
      } catch (err) {
        await this.failed(err, doc.versions || {});
      }
    };
    return this.busy(run());
  },
};
