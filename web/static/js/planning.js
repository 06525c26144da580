// Grid planning in the browser, for planners and the admin: a map button (#plan-button) opens
// the planning card (plan_card.js) and draws the plan (plan_map.js) in place of the grids layer.
//
// Tools: select (click a grid; Shift+click adds one, for a merge), draw a new grid, reshape the
// selected grid (drag its vertices — the neighbours' copies of a shared vertex follow — then
// Save), split it along a drawn line, merge the selected grids, delete one (leave a gap, or give
// its ground to the neighbours), paint street blocks or buildings into a grid (click them, or
// draw a lasso), undo/redo (Ctrl+Z, Ctrl+Shift+Z / Ctrl+Y). Drawing snaps to streets, building
// outlines and other grids (Leaflet-Geoman, loaded when the tool first opens; hold Alt to place
// a vertex freely).
//
// Every change is one POST api/grids/edit (one transaction on the server: the grids, the
// grid_code of what lies there, the figures, the lineage) naming the versions of the grids it was
// made from; a stale one is refused (409) and the page loads the plan as it is now and says who
// changed it. After each change the page asks api/grids/checks for the findings (overlaps, gaps,
// cut buildings, grids outside the household range, …) and the figures, and colours each grid
// by how far it is from the range. Findings warn; they never block an edit.
//
// Hooks for tests: window.gridmap.planning (the PlanTool): open(), close(), state (tool,
// selected, grids: Map code → feature), idle() (resolves when no request is in flight); and
// the card's hooks (plan_card.js); the partition proposal's (plan_auto.js).

/* global L */
import { describeError, getJSON } from "./api.js";
import { loadEditor } from "./editor.js";
import { onLangChange, t } from "./i18n.js";
import { addMapButton } from "./map_button.js";
import { Partition } from "./plan_auto.js";
import { PlanCard } from "./plan_card.js";
import { Checking } from "./plan_checks.js";
import { Editing } from "./plan_edit.js";
import { History } from "./plan_history.js";
import { Painting } from "./plan_paint.js";
import {
  BLOCK_STYLE,
  BUILDING_STYLE,
  FINDING_STYLE,
  GUIDE_STYLE,
  KeyedLayer,
  PICKED_STYLE,
  VERSION_STYLE,
  VertexFollow,
  deviationClass,
  gridStyle,
  shortCode,
} from "./plan_map.js";

const ICON =
  '<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true"><path d="M2 2h5v5H2zM9 9h5v5H9z" fill="none" stroke="currentColor" stroke-width="1.4"/><path d="M9.5 6.5l4-4M12 2.5h1.5V4" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linecap="round"/><path d="M2 9l5 5M7 9l-5 5" stroke="currentColor" stroke-width="1.2"/></svg>';
const PLANNERS = new Set(["admin", "planner"]);
const RANGE_KEY = "gridmap.plan.range";
/** Snapping: how near (pixels) a vertex snaps to a street, a building corner, another grid. */
const SNAP_PX = 12;

function storedRange() {
  try {
    const r = JSON.parse(window.localStorage.getItem(RANGE_KEY) || "null");
    if (r && Number.isFinite(r.min) && Number.isFinite(r.max) && r.min <= r.max) return r;
  } catch {
    /* none kept */
  }
  return null;
}

class PlanTool {
  constructor(app) {
    this.app = app;
    this.map = app.map;
    this.state = { tool: "select", selected: [], grids: new Map(), busy: 0 };
    this.range = storedRange() || { min: 300, max: 500 };
    this.figures = new Map();
    this.findings = [];
    this.blocks = [];
    this.picked = new Set(); // block or building ids picked for painting
    this.pending = Promise.resolve();
    this.card = new PlanCard({
      tool: (name) => this.setTool(name),
      merge: () => this.merge(),
      remove: () => this.askDelete(),
      undo: () => this.history("undo"),
      redo: () => this.history("redo"),
      attrs: (values) => this.saveAttrs(values),
      range: (min, max) => this.setRange(min, max),
      pickGrid: (code, add) => this.pickGrid(code, { add, fit: !add }),
      rebalance: () => this.proposeRebalance(),
      partition: () => this.proposePartition(),
      finding: (i) => this.showFinding(i),
      fix: (i, j) => this.fix(i, j),
      compare: (tx) => this.compare(tx),
      restore: (tx) => this.restore(tx),
      close: () => this.close(),
    });
    this.button = addMapButton(this.map, {
      bar: "gm-plan",
      button: "gm-plan-button",
      id: "plan-button",
      icon: ICON,
      attrs: { "aria-controls": "plan-card", "aria-expanded": "false" },
      onClick: () => (this.card.open ? this.close() : this.open()),
    }).button;
    onLangChange(() => this.relabel());
    document.addEventListener("keydown", (e) => this.key(e));
    this.map.on("pm:create", (e) => this.created(e));
    this.relabel();
  }

  relabel() {
    this.button.title = t("plan.button");
    this.button.setAttribute("aria-label", t("plan.button"));
    this.card.relabel();
    this.showActions();
  }

  /** Resolves when no request of the tool is in flight. */
  idle() {
    return this.pending;
  }

  busy(promise) {
    this.state.busy += 1;
    this.refreshButtons();
    const done = promise.finally(() => {
      this.state.busy -= 1;
      this.refreshButtons();
    });
    this.pending = this.pending.then(() => done.catch(() => null));
    return done;
  }

  // ---- open / close ----
  async open() {
    if (this.card.open) return;
    this.card.show(true);
    this.button.setAttribute("aria-expanded", "true");
    this.app.setMode("plan");
    this.legendWasOpen = !document.getElementById("legend-card")?.hidden;
    document.getElementById("legend-card")?.setAttribute("hidden", "");
    this.card.say("info", t("plan.loading"));
    await this.busy(
      (async () => {
        const PM = await loadEditor();
        // the map was made before the editor loaded: give it the editor's map half now
        if (!this.map.pm) {
          this.map.pm = new PM.Map(this.map);
          this.map.pm.setGlobalOptions({});
        }
        this.makeLayers();
        this.gridsWereOn = Boolean(window.gridmap.layers.grids && this.map.hasLayer(window.gridmap.layers.grids));
        if (this.gridsWereOn) await window.gridmap.setLayer("grids", false);
        await this.reload();
        this.card.say("info", t("plan.ready"));
      })().catch((err) => this.card.say("error", t("plan.error", { msg: describeError(err) }))),
    );
  }

  close() {
    if (!this.card.open) return;
    this.stopTool();
    this.discardPartition({ quiet: true });
    this.card.show(false);
    this.button.setAttribute("aria-expanded", "false");
    for (const l of [this.plan, this.blockLayer, this.buildingLayer, this.findingLayer, this.versionLayer, this.guides]) l?.show(false);
    if (this.legendWasOpen) document.getElementById("legend-card")?.removeAttribute("hidden");
    this.app.setMode(null);
    if (this.gridsWereOn) window.gridmap.setLayer("grids", true);
  }

  makeLayers() {
    if (this.plan) return;
    const map = this.map;
    this.svg = L.svg({ padding: 0.3 });
    this.plan = new KeyedLayer(map, {
      editable: true,
      renderer: this.svg,
      key: (f) => f.properties.code,
      style: (f) => this.gridStyleOf(f.properties.code),
      onClick: (code, e) => this.clickGrid(code, e),
      tooltip: (f) => `${shortCode(f.properties.code)}`,
    });
    this.blockLayer = new KeyedLayer(map, {
      key: (f) => String(f.id),
      style: (f) => (this.picked.has(String(f.id)) ? PICKED_STYLE : BLOCK_STYLE),
      onClick: (id) => this.togglePick(id),
    });
    this.buildingLayer = new KeyedLayer(map, {
      key: (f) => String(f.id),
      style: (f) => (this.picked.has(String(f.id)) ? PICKED_STYLE : BUILDING_STYLE),
      onClick: (id) => this.togglePick(id),
    });
    this.findingLayer = new KeyedLayer(map, { key: (f) => String(f.id), style: () => FINDING_STYLE, onClick: (i) => this.showFinding(Number(i)) });
    this.versionLayer = new KeyedLayer(map, { key: (f) => f.properties.code, style: () => VERSION_STYLE });
    this.guides = new KeyedLayer(map, { key: (f) => `${f.properties?.layer}:${f.id}`, style: () => GUIDE_STYLE });
    this.guides.group.options.snapIgnore = false;
    map.on("moveend", () => this.viewMoved());
  }

  gridStyleOf(code) {
    const fig = this.figures.get(code);
    const households = fig ? fig.households : this.state.grids.get(code)?.properties?.households;
    const cls = deviationClass(households, this.range.min, this.range.max);
    return gridStyle(cls, { selected: this.state.selected.includes(code), dim: this.state.tool.startsWith("paint") });
  }

  // ---- loading ----
  async reload() {
    const doc = await getJSON("api/grids/plan");
    this.depth = doc.depth || null;
    this.state.grids = new Map(doc.grids.features.map((f) => [f.properties.code, f]));
    this.state.selected = this.state.selected.filter((c) => this.state.grids.has(c));
    this.drawPlan();
    await Promise.all([this.refreshChecks(), this.refreshVersions()]);
  }

  drawPlan() {
    this.plan.set([...this.state.grids.values()]);
    this.plan.show(true);
    this.card.setNames(new Map([...this.state.grids].map(([c, f]) => [c, f.properties.name || c])));
    this.card.setSelected(this.state.selected, this.state.grids);
    this.findingLayer.group.bringToFront();
  }

  async refreshVersions() {
    const doc = await getJSON("api/grids/versions?limit=30");
    this.versions = doc.versions;
    this.card.setVersions(doc.versions, this.comparing || null);
  }

  setRange(min, max) {
    if (!(Number.isFinite(min) && Number.isFinite(max)) || min < 0 || min > max) {
      this.card.say("error", t("plan.bad_range"));
      return;
    }
    this.range = { min, max };
    try {
      window.localStorage.setItem(RANGE_KEY, JSON.stringify(this.range));
    } catch {
      /* storage off */
    }
    this.busy(this.refreshChecks().catch((err) => this.card.say("error", describeError(err))));
  }

  // ---- the selection ----
  clickGrid(code, e) {
    const tool = this.state.tool;
    if (tool === "select") {
      const add = e?.originalEvent?.shiftKey || e?.originalEvent?.ctrlKey || e?.originalEvent?.metaKey;
      this.pickGrid(code, { add });
    }
  }

  pickGrid(code, { add = false, fit = false } = {}) {
    if (this.state.tool === "reshape") return;
    const sel = this.state.selected;
    if (add) this.state.selected = sel.includes(code) ? sel.filter((c) => c !== code) : [...sel, code];
    else this.state.selected = [code];
    if (this.state.tool.startsWith("paint")) this.paintTo = code;
    this.afterSelection();
    if (fit) {
      const layer = this.plan.get(code);
      if (layer) this.fitTo(layer.getBounds(), 18);
    }
  }

  afterSelection() {
    this.plan.restyle();
    for (const c of this.state.selected) this.plan.get(c)?.bringToFront();
    this.card.setSelected(this.state.selected, this.state.grids);
    this.card.renderFigures();
    this.showActions();
    this.refreshButtons();
  }

  refreshButtons() {
    this.card.enable({ selected: this.state.selected, tool: this.state.tool, busy: this.state.busy > 0, depth: this.depth });
    this.card.setBusy(this.state.busy > 0);
  }

  // ---- tools ----
  setTool(name) {
    if (name === this.state.tool && name !== "select") name = "select";
    if ((name === "reshape" || name === "split") && this.state.selected.length !== 1) {
      this.card.say("info", t("plan.pick_one"));
      return;
    }
    this.stopTool();
    this.state.tool = name;
    this.picked.clear();
    // painting: a click goes to the block or building under it, not to the grid around it
    // (the grid it goes to is chosen in the card)
    this.svg._container?.classList.toggle("plan-passive", name.startsWith("paint"));
    this.card.setTool(name, this.state.busy > 0);
    if (name === "draw") this.startDraw("Polygon", "draw");
    else if (name === "split") this.startDraw("Line", "split");
    else if (name === "reshape") this.startReshape();
    else if (name === "paint-blocks") this.startPaintBlocks();
    else if (name === "paint-buildings") this.startPaintBuildings();
    this.plan.restyle();
    this.showActions();
    this.refreshButtons();
    this.card.say("info", t(`plan.hint.${name}`));
  }

  stopTool() {
    const map = this.map;
    if (map.pm) {
      map.pm.disableDraw();
    }
    if (this.editing) {
      this.editing.layer.pm.disable();
      this.editing.follow.stop();
      this.editing = null;
    }
    this.drawing = null;
    this.blockLayer?.show(false);
    this.buildingLayer?.show(false);
    this.guides?.show(false);
    this.picked.clear();
    this.state.tool = "select";
    this.card.setTool("select", this.state.busy > 0);
  }

  showActions() {
    const tool = this.state.tool;
    const items = [];
    if (tool === "reshape") {
      items.push({ id: "plan-save", key: "plan.save", primary: true, run: () => this.saveReshape() });
      items.push({ id: "plan-cancel", key: "plan.cancel", run: () => this.cancelReshape() });
    } else if (tool === "draw" || tool === "split") {
      items.push({ id: "plan-cancel", key: "plan.cancel", run: () => this.setTool("select") });
    } else if (tool.startsWith("paint")) {
      const select = document.createElement("select");
      select.id = "plan-paint-to";
      select.setAttribute("aria-label", t("plan.paint_to"));
      for (const [code, f] of [...this.state.grids].sort()) {
        const o = new Option(`${shortCode(code)} ${f.properties.name || ""}`.trim(), code);
        select.append(o);
      }
      if (this.paintTo && this.state.grids.has(this.paintTo)) select.value = this.paintTo;
      else this.paintTo = select.value || null;
      select.addEventListener("change", () => this.setPaintTarget(select.value));
      const label = document.createElement("label");
      label.className = "plan-field";
      label.append(t("plan.paint_to"), select);
      items.push(label);
      items.push({ id: "plan-lasso", key: "plan.lasso", run: () => this.startDraw("Polygon", "lasso") });
      items.push({ id: "plan-paint-apply", key: "plan.paint_apply", vars: { n: this.picked.size }, primary: true, disabled: !this.picked.size, run: () => this.paint() });
      items.push({ id: "plan-paint-clear", key: "plan.paint_clear", disabled: !this.picked.size, run: () => this.clearPicked() });
    }
    this.card.setActions(items);
  }

  startDraw(shape, purpose) {
    this.drawing = purpose;
    this.showGuides();
    this.map.pm.enableDraw(shape, {
      snappable: true,
      snapDistance: SNAP_PX,
      // a drawn grid that crosses itself goes to the server, which refuses it and says where
      // (Geoman, not allowing it, would save the outline without the crossing corner)
      allowSelfIntersection: purpose === "draw",
      finishOn: shape === "Line" ? "dblclick" : null,
      templineStyle: { color: "#e6007e" },
      hintlineStyle: { color: "#e6007e", dashArray: [5, 5] },
      pathOptions: { color: "#e6007e", weight: 2 },
    });
  }

  created(e) {
    const purpose = this.drawing;
    const geometry = e.layer.toGeoJSON(false).geometry;
    this.map.removeLayer(e.layer);
    this.drawing = null;
    if (purpose === "draw") {
      this.setTool("select");
      this.edit({ op: "draw", geometry });
    } else if (purpose === "split") {
      const code = this.state.selected[0];
      this.setTool("select");
      this.edit({ op: "split", code, line: geometry });
    } else if (purpose === "lasso") {
      this.lassoPick(geometry);
    }
  }

  // ---- reshape ----
  startReshape() {
    const code = this.state.selected[0];
    const layer = this.plan.get(code);
    if (!layer) return;
    const others = [...this.plan.byKey.entries()].filter(([c]) => c !== code).map(([, l]) => l);
    const follow = new VertexFollow(layer, others);
    // the neighbours' copies follow the dragged vertex: snapping to them would hold it still
    const neighbours = new Set(follow.neighbours());
    for (const l of others) l.options.snapIgnore = neighbours.has(l);
    layer.options.snapIgnore = true;
    this.editing = { code, layer, follow };
    this.showGuides();
    layer.pm.enable({ snappable: true, snapDistance: SNAP_PX, allowSelfIntersection: false, draggable: false, removeLayerBelowMinVertexCount: false });
    layer.bringToFront();
  }

  saveReshape() {
    if (!this.editing) return;
    const { code, layer } = this.editing;
    const geometry = layer.toGeoJSON(false).geometry;
    this.setTool("select");
    this.edit({ op: "reshape", code, geometry });
  }

  cancelReshape() {
    this.setTool("select");
    this.drawPlan(); // back to the grids as they are
    this.card.say("info", t("plan.cancelled"));
  }

  // ---- merge, delete ----
  merge() {
    if (this.state.selected.length < 2) return;
    this.edit({ op: "merge", codes: [...this.state.selected] });
  }

  askDelete() {
    if (this.state.selected.length !== 1) return;
    const code = this.state.selected[0];
    this.card.setActions([
      { id: "plan-delete-give", key: "plan.delete_give", primary: true, run: () => this.edit({ op: "delete", code, to: "neighbours" }) },
      { id: "plan-delete-gap", key: "plan.delete_gap", run: () => this.edit({ op: "delete", code }) },
      { id: "plan-cancel", key: "plan.cancel", run: () => (this.showActions(), this.card.say("info", t("plan.delete_cancelled", { code: shortCode(code) }))) },
    ]);
    this.card.say("info", t("plan.delete_ask", { code: shortCode(code) }));
  }

  // ---- keys ----
  key(e) {
    if (!this.card.open) return;
    const target = e.target;
    if (target?.closest?.("input, textarea, select")) return;
    const mod = e.ctrlKey || e.metaKey;
    if (mod && (e.key === "z" || e.key === "Z") && !e.shiftKey) {
      e.preventDefault();
      this.history("undo");
    } else if (mod && ((e.key === "z" || e.key === "Z") && e.shiftKey || e.key === "y")) {
      e.preventDefault();
      this.history("redo");
    } else if (e.key === "Escape") {
      if (this.state.tool === "reshape") this.cancelReshape();
      else if (this.state.tool !== "select") this.setTool("select");
    } else if (e.key === "Enter" && this.state.tool === "reshape") {
      this.saveReshape();
    }
  }
}

Object.assign(PlanTool.prototype, Editing, Painting, History, Partition, Checking);

export function install(app) {
  const role = app.session?.role;
  if (!PLANNERS.has(role)) return;
  const tool = new PlanTool(app);
  window.gridmap.planning = tool;
}
