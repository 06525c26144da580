// The automatic partition as a proposal in the planning tool (a mixin of planning.js's
// PlanTool): "Propose a partition" (#plan-auto, under the figures) asks which community
// (#plan-auto-community: the selected grid's, or another), then POST api/grids/partition starts
// a job on the server (the community's grids drawn anew into the card's household range,
// nothing written), whose progress shows in the status line (#plan-auto-cancel stops it). The
// proposal is drawn over the plan in thick teal dashes with its own numbers, and the
// status line compares it with the grids now (grids, in range, largest deviation).
// Accept (#plan-auto-accept: POST api/grids/partition/accept — one planning edit, so one
// Ctrl+Z takes it all back) or Discard (#plan-auto-discard: the plan stays as it was).
//
// Hooks for tests: window.gridmap.planning.partition ({job, doc} while a proposal is shown),
// partitionLayer (its KeyedLayer), #plan-card[data-partition=picking|running|shown].

import { describeError, getJSON, postJSON, sendJSON } from "./api.js";
import { FINISHED, POLL_MS, sleep } from "./export_jobs.js";
import { formatNumber, getLang, t } from "./i18n.js";
import { KeyedLayer, PROPOSAL_STYLE, shortCode } from "./plan_map.js";

/** Households per grid and the share off it that the card's range means. */
export function rangeTarget({ min, max }) {
  const households = (min + max) / 2;
  const tolerance = max + min > 0 ? (max - min) / (max + min) : 0;
  return { households, tolerance: Math.min(tolerance, 0.99) };
}

export const Partition = {
  /** Step 1: choose the community (the selected grid's by default). */
  proposePartition() {
    this.discardPartition({ quiet: true });
    if (this.state.tool !== "select") this.setTool("select");
    const communities = [...new Set([...this.state.grids.values()].map((f) => f.properties.community_code).filter(Boolean))].sort();
    if (!communities.length) {
      this.card.say("error", t("plan.auto_none"));
      return;
    }
    const selected = this.state.grids.get(this.state.selected[0])?.properties?.community_code;
    const select = document.createElement("select");
    select.id = "plan-auto-community";
    select.setAttribute("aria-label", t("plan.auto_community"));
    for (const code of communities) {
      const grid = [...this.state.grids.values()].find((f) => f.properties.community_code === code);
      const name = (grid?.properties?.name || "").replace(/第\d+网格$/, "");
      select.append(new Option(name ? `${name} ${code}` : code, code));
    }
    select.value = selected && communities.includes(selected) ? selected : communities[0];
    const label = document.createElement("label");
    label.className = "plan-field";
    label.append(t("plan.auto_community"), select);
    this.card.root.dataset.partition = "picking";
    this.card.setActions([
      label,
      { id: "plan-auto-start", key: "plan.auto_start", primary: true, run: () => this.startPartition(select.value) },
      { id: "plan-auto-cancel", key: "plan.cancel", run: () => this.discardPartition() },
    ]);
    const { households, tolerance } = rangeTarget(this.range);
    this.card.say("info", t("plan.auto_pick", { households: formatNumber(households, 0), min: this.range.min, max: this.range.max, percent: Math.round(tolerance * 100) }));
  },

  /** Step 2: the job on the server; progress in the status line until it is done. */
  async startPartition(community) {
    const { households, tolerance } = rangeTarget(this.range);
    this.card.root.dataset.partition = "running";
    this.card.setActions([{ id: "plan-auto-cancel", key: "plan.auto_stop", run: () => this.stopPartition() }]);
    this.card.say("info", t("plan.auto_starting"));
    const run = async () => {
      let job = await postJSON("api/grids/partition", { community, households, tolerance });
      this.partitionJob = job;
      for (let i = 0; !FINISHED.has(job.state); i++) {
        await sleep(POLL_MS[Math.min(i, POLL_MS.length - 1)]);
        if (this.partitionJob?.id !== job.id) return null; // stopped
        job = await getJSON(job.url);
        const step = job.message?.[getLang()] ?? job.message?.en ?? "";
        if (!FINISHED.has(job.state)) this.card.say("info", t("plan.auto_running", { percent: Math.round((job.progress || 0) * 100), step }));
      }
      if (job.state !== "done") throw Object.assign(new Error(job.error?.message || t("plan.auto_cancelled")), { code: job.error?.code });
      const doc = await getJSON(job.result);
      return { job, doc };
    };
    try {
      const found = await this.busy(run());
      if (!found) return;
      this.showPartition(found.job, found.doc);
    } catch (err) {
      this.partitionJob = null;
      delete this.card.root.dataset.partition;
      this.showActions();
      this.card.say("error", t("plan.refused", { msg: describeError(err) }));
    }
  },

  stopPartition() {
    const job = this.partitionJob;
    this.partitionJob = null;
    if (job) sendJSON("DELETE", job.url).catch(() => {});
    delete this.card.root.dataset.partition;
    this.showActions();
    this.card.say("info", t("plan.auto_cancelled"));
  },

  /** Step 3: the proposal over the plan, its figures beside the grids' now; Accept / Discard. */
  showPartition(job, doc) {
    if (!this.partitionLayer) {
      this.partitionLayer = new KeyedLayer(this.map, {
        key: (f) => f.properties.code,
        style: () => PROPOSAL_STYLE,
        tooltip: (f) => `${shortCode(f.properties.code)} · ${f.properties.households}`,
      });
    }
    this.partition = { job: job.id, url: job.url, doc };
    this.partitionLayer.set(doc.features);
    this.partitionLayer.show(true);
    this.partitionLayer.group.bringToFront();
    const bounds = this.partitionLayer.group.getBounds();
    const card = this.card.root.getBoundingClientRect();
    if (bounds.isValid()) this.map.fitBounds(bounds, { paddingTopLeft: [340, 40], paddingBottomRight: [card.width + 40, 40], maxZoom: 17 });
    this.card.root.dataset.partition = "shown";
    this.card.setActions([
      { id: "plan-auto-accept", key: "plan.auto_accept", vars: { n: doc.features.length }, primary: true, run: () => this.acceptPartition() },
      { id: "plan-auto-discard", key: "plan.auto_discard", run: () => this.discardPartition() },
    ]);
    const f = doc.proposal.figures;
    const now = f.current;
    // each note in English and Chinese ({en, "zh-CN"}): the page's language
    const notes = (doc.proposal.notes || []).map((n) => (typeof n === "string" ? n : n[getLang()] || n.en)).join(" ");
    this.card.say(
      "info",
      `${t("plan.auto_shown", { n: f.grids, ok: f.in_range, dev: formatNumber(f.max_deviation, 0), now_n: now.grids, now_ok: now.in_range, now_dev: formatNumber(now.max_deviation, 0) })} ${notes}`.trim(),
    );
  },

  hidePartition() {
    this.partitionLayer?.show(false);
    this.partition = null;
    delete this.card.root.dataset.partition;
  },

  discardPartition({ quiet = false } = {}) {
    const shown = this.partition;
    if (this.partitionJob && !shown) this.stopPartition();
    this.hidePartition();
    this.partitionJob = null;
    if (shown) sendJSON("DELETE", shown.url).catch(() => {}); // the server may forget it
    if (!quiet) {
      this.showActions();
      this.card.say("info", t(shown ? "plan.auto_discarded" : "plan.cancelled"));
    }
  },

  /** Accept: one planning edit replaces the community's grids (one undo takes it back). */
  acceptPartition() {
    const shown = this.partition;
    if (!shown) return;
    const run = async () => {
      try {
        const reply = await postJSON("api/grids/partition/accept", { job: shown.job });
        this.hidePartition();
        this.partitionJob = null;
        sendJSON("DELETE", shown.url).catch(() => {});
        for (const code of reply.removed) this.state.grids.delete(code);
        for (const f of reply.grids.features) this.state.grids.set(f.properties.code, f);
        this.state.selected = this.state.selected.filter((c) => this.state.grids.has(c));
        this.drawPlan();
        this.afterSelection();
        await Promise.all([this.refreshChecks(), this.refreshVersions()]);
        this.card.say("ok", t("plan.auto_done", { n: shown.doc.features.length, community: shown.doc.proposal.community }));
      } catch (err) {
        this.hidePartition();
        this.showActions();
        await this.failed(err);
      }
    };
    return this.busy(run());
  },
};
