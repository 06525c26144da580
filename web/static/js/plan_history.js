// The plan's history in the planning tool (a mixin of planning.js's PlanTool): undo and redo
// of one's own edits, an old version drawn over the plan to compare, a version restored.

import { describeError, getJSON, postJSON } from "./api.js";
import { t } from "./i18n.js";
import { shortCode } from "./plan_map.js";

const OPS = new Set(["draw", "reshape", "split", "merge", "delete", "give", "paint", "rebalance"]);

/**
 * A version's operation in the page's language, from its audit action ("grids paint
 * 320102001002001", "grids rebalance …", "grids accept 320102001001", "grids restore 19",
 * "grids auto (…)", "grids renumber …", "undo 27" (an undo, or a redo when version 27 was an
 * undo: `actions` maps each listed version's tx to its action), "edit grids",
 * "import …", "build demo", "init from …"), grid codes short (2-001).
 */
export function describeAction(action, actions = new Map()) {
  const text = String(action || "").trim();
  let m = /^grids (\w+)\s*(.*)$/.exec(text);
  if (m && OPS.has(m[1])) {
    const codes = m[2].split(/\s+/).filter((c) => /^\d{6,}$/.test(c));
    return t(`plan.op.${m[1]}`, { codes: codes.map((c) => shortCode(c)).join(", ") });
  }
  if (m && m[1] === "restore") return t("plan.op.restore", { tx: m[2] });
  if (m && m[1] === "accept") return t("plan.op.accept", { community: m[2] });
  if (m && (m[1] === "auto" || m[1] === "renumber")) return t(`plan.op.${m[1]}`);
  if ((m = /^undo (\d+)$/.exec(text))) {
    // a redo is the undo of an undo: say which version it brings back
    const undone = /^undo (\d+)$/.exec(String(actions.get(Number(m[1])) || ""));
    return undone ? t("plan.op.redo", { tx: undone[1] }) : t("plan.op.undo", { tx: m[1] });
  }
  if (text === "edit grids" || text === "edit") return t("plan.op.edit");
  if (text.startsWith("import ")) return t("plan.op.import");
  if (text.startsWith("build ") || text.startsWith("init ")) return t("plan.op.build");
  return text;
}

export const History = {
  history(which) {
    if (this.state.tool === "reshape") return;
    const run = async () => {
      try {
        const reply = await postJSON(`api/grids/${which}`, {});
        this.depth = reply.depth || this.depth;
        await this.applyReply(reply);
        this.card.say("ok", t(`plan.done.${which}`));
      } catch (err) {
        await this.failed(err);
      }
    };
    return this.busy(run());
  },

  /** Ask before restoring version `tx` (as a new version): the plan's current state goes. */
  restore(tx) {
    const back = (say) => {
      this.showActions();
      if (say) this.card.say("info", t("plan.restore_cancelled"));
    };
    this.card.setActions([
      { id: "plan-restore-yes", key: "plan.restore_yes", vars: { tx }, primary: true, run: () => (back(false), this.restoreNow(tx)) },
      { id: "plan-cancel", key: "plan.cancel", run: () => back(true) },
    ]);
    this.card.say("info", t("plan.restore_ask", { tx }));
  },

  restoreNow(tx) {
    const run = async () => {
      try {
        // the versions of the grids as this page shows them: a grid someone changed since
        // refuses the restore (409), and failed() loads the plan as it is now and says so
        const versions = {};
        for (const [code, f] of this.state.grids) if (f.version !== undefined) versions[code] = f.version;
        const reply = await postJSON("api/grids/restore", { tx, versions });
        this.depth = reply.depth || this.depth;
        this.compare(null);
        await this.applyReply(reply);
        this.card.say("ok", t("plan.done.restore", { tx }));
      } catch (err) {
        await this.failed(err);
      }
    };
    return this.busy(run());
  },

  /** Draw what an undo, redo or restore changed: only the grids it names (all: every grid). */
  async applyReply(reply) {
    if (reply.all) this.state.grids = new Map();
    this.drawChanged(reply.grids.features, reply.removed || [], reply.all);
    this.state.selected = this.state.selected.filter((c) => this.state.grids.has(c));
    this.card.setSelected(this.state.selected, this.state.grids);
    await Promise.all([this.refreshChecks(), this.refreshVersions()]);
  },

  /** Take the changed grids into the plan and redraw only them (all: the whole plan). */
  drawChanged(features, removed, all = false) {
    for (const code of removed) this.state.grids.delete(code);
    for (const f of features) this.state.grids.set(f.properties.code, f);
    if (all) {
      this.drawPlan();
      return;
    }
    this.plan.update(features, removed);
    this.plan.show(true);
    this.card.setNames(new Map([...this.state.grids].map(([c, f]) => [c, f.properties.name || c])));
    this.findingLayer.group.bringToFront();
  },

  async compare(tx) {
    if (tx === null || this.comparing === tx) {
      this.comparing = null;
      this.versionLayer.show(false);
    } else {
      this.comparing = tx;
      const fc = await this.busy(getJSON(`api/grids/versions/${tx}`)).catch((err) => {
        this.card.say("error", describeError(err));
        return null;
      });
      if (!fc) return;
      this.versionLayer.set(fc.features);
      this.versionLayer.show(true);
      this.versionLayer.group.bringToFront();
      this.card.say("info", t("plan.comparing", { tx }));
    }
    this.card.setVersions(this.versions || [], this.comparing);
  },

};
