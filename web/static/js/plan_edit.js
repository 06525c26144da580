// Changes the planning tool sends (a mixin of planning.js's PlanTool): one operation of
// POST api/grids/edit with the versions of the grids it was made from; a grid's name and
// worker through the write API (PATCH with If-Match); the one-click fixes of the checks; a fit
// of the map to what is shown, beside the left panel and the card. A stale change (409) loads
// the plan as it is now and names the grids that made it stale, with who changed each.

import { apiFetch, postJSON, refusalMessage } from "./api.js";
import { getLang, t, tn } from "./i18n.js";
import { shortCode } from "./plan_map.js";

export const Editing = {
  /** Send one operation; on success draw what changed and refresh the checks. */
  async edit(op) {
    // the version of every grid as the page shows it: the server checks those of the grids
    // the edit names, changes or removes (one it would remove unseen is refused)
    const versions = {};
    for (const [code, f] of this.state.grids) if (f.version !== undefined) versions[code] = f.version;
    const run = async () => {
      try {
        const reply = await postJSON("api/grids/edit", { ...op, versions });
        if (reply.tx === 0) {
          // nothing changed (painted into the grid that holds it already): no version saved
          this.card.say("info", op.to ? t("plan.unchanged_to", { to: shortCode(op.to) }) : t("plan.unchanged"));
          return;
        }
        // a reshape moved vertices of the neighbours' layers in the page: draw them all anew
        const before = this.boundsNow();
        this.depth = reply.depth || this.depth;
        this.drawChanged(reply.grids.features, reply.removed, op.op === "reshape");
        if (reply.added.length) this.state.selected = [...reply.added];
        else this.state.selected = this.state.selected.filter((c) => this.state.grids.has(c));
        this.afterSelection();
        const notes = (reply.notes || []).map((n) => n[getLang()] || n.en).join(" ");
        // a merge names the grid it kept (the one with the most households), not every grid
        const codes = op.op === "merge" && reply.lineage?.length ? reply.lineage[0].to : [...reply.added, ...reply.changed, ...reply.removed];
        this.card.say("ok", `${t(`plan.done.${op.op}`, { codes: codes.map((c) => shortCode(c)).join(", ") })} ${notes}`.trim());
        // re-check only the grids the edit changed or removed and those around them
        await Promise.all([this.refreshChecks(this.touched(reply, before)), this.refreshVersions()]);
      } catch (err) {
        await this.failed(err, versions);
      }
    };
    return this.busy(run());
  },

  /**
   * Say why a change was refused, in the page's language. A stale change (409): load the plan
   * as it is now and name the grids the server says made it stale (`error.grids`), each with
   * who changed it and when (the workspace's time); nothing to undo or redo (400
   * nothing_to_undo): the server's sentence, the plan untouched.
   */
  async failed(err, versions = {}) {
    if (err?.status === 409 && err.code === "blocks_changed") {
      // the streets or a community boundary changed: the blocks' numbers name other ground
      // now, and nothing was saved. Load the plan as it is and say so (paint() loads the
      // blocks anew after every paint, refused or not).
      await this.reload().catch(() => null);
      this.card.say("conflict", t("plan.blocks_changed"));
    } else if (err?.status === 409 && Array.isArray(err.error?.grids) && err.error.grids.length) {
      await this.reload().catch(() => null);
      const grids = err.error.grids;
      const said = tn("plan.conflict", grids.length, { codes: grids.map((g) => shortCode(g.code)).join(", ") });
      const who = grids
        .filter((g) => g.changed_by)
        .map((g) => t(g.version === null ? "plan.removed_by" : "plan.changed_by", { code: shortCode(g.code), by: g.changed_by, at: g.when || "?" }))
        .join(" ");
      this.card.say("conflict", `${said} ${who}`.trim());
    } else if (err?.status === 409) {
      // no grids named (an undo or a restore refused): the server's sentence names them
      await this.reload().catch(() => null);
      this.card.say("conflict", refusalMessage(err) || t("plan.conflict_any"));
    } else if (err?.status === 400 && err.code === "nothing_to_undo") {
      this.card.say("info", refusalMessage(err));
    } else if (err?.status === 404 && err.code === "feature_not_found") {
      // a grid this page still shows was deleted or merged away by someone else meanwhile
      await this.reload().catch(() => null);
      this.card.say("conflict", t("plan.gone", { msg: refusalMessage(err) }));
    } else {
      this.card.say("error", t("plan.refused", { msg: refusalMessage(err) }));
    }
  },

  saveAttrs(values) {
    const code = this.state.selected[0];
    const f = this.state.grids.get(code);
    if (!f) return;
    const run = async () => {
      try {
        const resp = await apiFetch(`api/layers/grids/features/${encodeURIComponent(f.id)}`, {
          method: "PATCH",
          headers: { "If-Match": `"${f.version}"` },
          json: { type: "Feature", properties: values },
        });
        const doc = await resp.json();
        this.state.grids.set(code, doc);
        this.card.setSelected(this.state.selected, this.state.grids);
        this.card.say("ok", t("plan.done.attrs", { code: shortCode(code) }));
        await this.refreshVersions();
      } catch (err) {
        await this.failed(err, { [code]: f.version });
      }
    };
    return this.busy(run());
  },

  // ---- the view ----
  /** Fit the map to `bounds` within the part of it that the left panel and the card leave. */
  fitTo(bounds, maxZoom) {
    const box = this.map.getContainer().getBoundingClientRect();
    const shown = (el) => {
      const r = el && !el.hidden ? el.getBoundingClientRect() : null;
      return r && r.width > 0 && r.height > 0 ? r : null;
    };
    const cover = { left: 0, right: 0, top: 0, bottom: 0 };
    const panel = shown(document.getElementById("panel"));
    if (panel && panel.left < box.left + box.width / 2 && panel.right > box.left) cover.left = panel.right - box.left;
    const card = shown(this.card.root);
    if (card && card.left > box.left + box.width / 2) cover.right = box.right - card.left;
    else if (card && card.top > box.top + box.height / 2) cover.bottom = box.bottom - card.top;
    if (cover.left + cover.right > box.width * 0.8) cover.left = cover.right = 0; // a narrow screen
    if (cover.bottom > box.height * 0.8) cover.bottom = 0;
    const pad = 24;
    this.map.fitBounds(bounds, {
      maxZoom,
      paddingTopLeft: [cover.left + pad, cover.top + pad],
      paddingBottomRight: [cover.right + pad, cover.bottom + pad],
    });
  },

  // ---- findings ----
  showFinding(i) {
    const f = this.findings[i];
    if (!f) return;
    const layer = this.findingLayer.get(String(i));
    if (layer) this.fitTo(layer.getBounds(), 19);
    else if (f.at) this.map.setView([f.at[1], f.at[0]], Math.max(this.map.getZoom(), 18));
    for (const li of document.querySelectorAll("#plan-findings li")) li.classList.toggle("current", li === document.querySelectorAll("#plan-findings li")[i]);
  },

  fix(i, j) {
    const f = this.findings[i];
    const fix = f?.fixes?.[j];
    if (!fix) return;
    const op = fix.op === "give" ? { ...fix, geometry: f.geometry } : { ...fix };
    return this.edit(op);
  },

};
