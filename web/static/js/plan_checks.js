// The checks in the planning tool (a mixin of planning.js's PlanTool): the findings and the
// figures of api/grids/checks — of the whole plan after a load, an undo, a redo, a restore or a
// change of the range; after an edit, of the grids it changed and those around them only
// (?grids=), merged into the list the page shows.

import { getJSON } from "./api.js";

/** The most grids a re-check after an edit names (the server takes 500): more, the whole plan. */
const MAX_RECHECK = 500;

export const Checking = {
  /**
   * Ask for the findings and the figures. `codes` (the grids an edit changed, added or
   * removed, and those around them): re-check only those (api/grids/checks?grids=) and merge
   * the answer into the list — findings naming one of them, and those naming no grid within
   * the ground it re-checked (`scope`), are replaced; the figures of those grids too. None:
   * the whole plan (after load, undo, redo, restore and "run checks").
   */
  async refreshChecks(codes = null) {
    const params = new URLSearchParams({ min: this.range.min, max: this.range.max });
    const some = codes && codes.length && codes.length <= MAX_RECHECK;
    if (some) params.set("grids", [...new Set(codes)].join(","));
    const doc = await getJSON(`api/grids/checks?${params}`);
    if (doc.kinds) this.kinds = doc.kinds;
    if (some) {
      const asked = new Set(doc.grids || codes);
      const box = doc.scope;
      const inBox = (f) => Boolean(box && f.at && f.at[0] >= box[0] && f.at[0] <= box[2] && f.at[1] >= box[1] && f.at[1] <= box[3]);
      const concerns = (f) => (f.grids?.length ? f.grids.some((c) => asked.has(c)) : inBox(f));
      const order = (f) => (this.kinds || []).indexOf(f.kind);
      const value = (f) => (typeof f.value === "number" ? f.value : 0);
      this.findings = [...this.findings.filter((f) => !concerns(f)), ...doc.findings.filter((f) => f.grids?.length || inBox(f))].sort(
        (a, b) => order(a) - order(b) || value(b) - value(a),
      );
      for (const c of asked) if (!this.state.grids.has(c)) this.figures.delete(c);
      for (const r of doc.figures) this.figures.set(r.code, r);
    } else {
      this.findings = doc.findings;
      this.figures = new Map(doc.figures.map((r) => [r.code, r]));
    }
    const rows = some ? [...this.figures.values()].filter((r) => this.state.grids.has(r.code)) : doc.figures;
    this.card.setFigures(rows, this.range);
    this.card.setFindings(this.findings);
    this.findingLayer.set(this.findings.map((f, i) => (f.geometry ? { type: "Feature", id: i, geometry: f.geometry, properties: { kind: f.kind } } : null)).filter(Boolean));
    this.findingLayer.show(true);
    this.plan.restyle();
  },

  /** The bounds of every grid the page draws now (code → LatLngBounds), before an edit. */
  boundsNow() {
    return new Map([...this.plan.byKey].map(([c, layer]) => [c, layer.getBounds()]));
  },

  /**
   * The grids an edit's reply names, and those of the page whose box meets theirs, before
   * (`before`, from boundsNow) or after: the ground the edit touched.
   */
  touched(reply, before) {
    const codes = new Set([...(reply.changed || []), ...(reply.added || []), ...(reply.removed || [])]);
    const boxes = [];
    for (const c of codes) {
      for (const b of [before.get(c), this.plan.get(c)?.getBounds()]) if (b?.isValid?.()) boxes.push(b);
    }
    for (const [c, layer] of this.plan.byKey) {
      if (codes.has(c)) continue;
      const b = layer.getBounds();
      if (boxes.some((x) => x.intersects(b))) codes.add(c);
    }
    return [...codes];
  },
};
