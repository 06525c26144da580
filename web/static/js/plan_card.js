// The grid planning tool's card (planning.js drives it): the tools, what is selected, the
// status line, and three tabs — each grid's figures, the plan's checks with their fixes, the
// plan's versions. It only draws and reports clicks; planning.js decides.
//
// Hooks for tests: #plan-card[data-tool][data-busy], [data-plan-tool=select|draw|reshape|split|
// paint-blocks|paint-buildings], #plan-merge, #plan-delete, #plan-undo, #plan-redo, #plan-status
// [data-kind=info|ok|error|conflict], #plan-actions (#plan-save, #plan-cancel, #plan-lasso,
// #plan-paint-to, #plan-paint-apply, #plan-paint-clear, #plan-delete-gap, #plan-delete-give,
// #plan-restore-yes), #plan-rebalance, #plan-auto, #plan-selected, #plan-name, #plan-worker,
// #plan-phone, #plan-attrs-save, #plan-categories-box (details: the selected grid's visit
// categories, for a reader of its register) #plan-categories tr[data-category] td.households/
// td.people, #plan-visits-note (for everyone else), tabs
// [data-plan-tab=figures|checks|versions], #plan-min, #plan-max, #plan-figures tr[data-code],
// #plan-findings li[data-kind] .plan-fix, #plan-versions li[data-tx] .plan-vno/.plan-compare/
// .plan-restore.

import { h } from "./dom.js";
import { formatNumber, getLang, t } from "./i18n.js";
import { describeAction } from "./plan_history.js";
import { DEVIATION_COLOURS, shortCode } from "./plan_map.js";

/** The six visit categories (六必访), in the order of the server's figures. */
export const VISIT_CATEGORIES = ["hardship", "elderly_alone", "disabled", "migrant", "veteran_party_member", "assisted"];

export const TOOLS = ["select", "draw", "reshape", "split", "paint-blocks", "paint-buildings"];
const TABS = ["figures", "checks", "versions"];
/** The figures table's columns: key in a figure row, i18n key, digits. */
const COLUMNS = [
  ["households", "plan.col.households", 0],
  ["residents", "plan.col.residents", 0],
  ["visit_households", "plan.col.visits", 0],
  ["buildings", "plan.col.buildings", 0],
  ["area_m2", "plan.col.area", 0],
  ["street_length_m", "plan.col.streets", 0],
  ["cameras", "plan.col.cameras", 0],
  ["incidents_12m", "plan.col.incidents", 0],
  ["deviation", "plan.col.deviation", 0],
];

/** `text` with each of the grid `codes` it names in the card's short form (1-007). */
function shortCodes(text, codes = []) {
  let out = String(text ?? "");
  for (const c of [...codes].sort((a, b) => b.length - a.length)) out = out.split(c).join(shortCode(c));
  return out;
}

/** A figure as the table shows it: "—" for none, `<5` as it comes, + before a deviation. */
function figureText(row, key, digits) {
  const v = row[key];
  if (v === null || v === undefined) return "—";
  if (typeof v === "string") return v;
  const text = formatNumber(v, digits);
  return key === "deviation" && v > 0 ? `+${text}` : text;
}

function button(id, key, attrs = {}) {
  const b = h("button", { type: "button", id, class: "plan-btn", ...attrs });
  b.dataset.label = key;
  return b;
}

export class PlanCard {
  /**
   * @param {object} on callbacks: tool(name), merge(), remove(), undo(), redo(), save(), cancel(),
   *   attrs({name, worker, worker_phone}), range(min, max), pickGrid(code, add), rebalance(), partition(), finding(i), fix(i, j), compare(tx), restore(tx), close()
   */
  constructor(on) {
    this.on = on;
    this.tab = "figures";
    this.sort = { key: "code", dir: 1 };
    this.figures = [];
    this.findings = [];
    this.versions = [];
    this.names = new Map();
    this.selected = [];
    this.build();
  }

  build() {
    const close = h("button", { type: "button", class: "plan-close", id: "plan-close", text: "×" });
    close.addEventListener("click", () => this.on.close());
    this.title = h("h2", { class: "plan-title" });
    this.toolButtons = new Map(
      TOOLS.map((name) => {
        const b = button(null, `plan.tool.${name}`, { "aria-pressed": "false" });
        b.dataset.planTool = name;
        b.addEventListener("click", () => this.on.tool(name));
        return [name, b];
      }),
    );
    this.merge = button("plan-merge", "plan.merge");
    this.merge.addEventListener("click", () => this.on.merge());
    this.remove = button("plan-delete", "plan.delete");
    this.remove.addEventListener("click", () => this.on.remove());
    this.undo = button("plan-undo", "plan.undo");
    this.undo.addEventListener("click", () => this.on.undo());
    this.redo = button("plan-redo", "plan.redo");
    this.redo.addEventListener("click", () => this.on.redo());
    this.status = h("p", { id: "plan-status", class: "plan-status", role: "status", "aria-live": "polite" });
    this.actions = h("div", { id: "plan-actions", class: "plan-actions" });
    this.selectedBox = h("div", { id: "plan-selected", class: "plan-selected" });
    this.categoryBox = h("div", { class: "plan-categories-wrap" });
    this.tabButtons = new Map(
      TABS.map((name) => {
        const b = h("button", { type: "button", class: "plan-tab", role: "tab", "aria-selected": "false" });
        b.dataset.planTab = name;
        b.addEventListener("click", () => this.showTab(name));
        return [name, b];
      }),
    );
    this.panes = new Map(TABS.map((name) => [name, h("div", { class: "plan-pane", role: "tabpanel", dataset: { pane: name } })]));
    this.root = h(
      "section",
      { id: "plan-card", class: "plan-card card", hidden: true, "aria-labelledby": "plan-title" },
      h("header", { class: "plan-head" }, this.title, close),
      h("div", { class: "plan-tools", role: "toolbar" }, ...this.toolButtons.values()),
      h("div", { class: "plan-tools" }, this.merge, this.remove, this.undo, this.redo),
      this.actions,
      this.status,
      this.selectedBox,
      h("div", { class: "plan-tabs", role: "tablist" }, ...this.tabButtons.values()),
      ...this.panes.values(),
    );
    this.title.id = "plan-title";
    document.body.append(this.root);
    this.showTab("figures");
  }

  get open() {
    return !this.root.hidden;
  }

  show(on) {
    this.root.hidden = !on;
  }

  relabel() {
    this.title.textContent = t("plan.title");
    for (const b of this.root.querySelectorAll("[data-label]")) b.textContent = t(b.dataset.label);
    for (const [name, b] of this.tabButtons) b.textContent = t(`plan.tab.${name}`);
    this.renderSelected();
    this.renderFigures();
    this.renderFindings();
    this.renderVersions();
  }

  setTool(name, busy) {
    this.root.dataset.tool = name;
    for (const [n, b] of this.toolButtons) b.setAttribute("aria-pressed", String(n === name));
    this.setBusy(busy);
  }

  setBusy(busy) {
    this.root.dataset.busy = busy ? "1" : "0";
    this.root.setAttribute("aria-busy", String(Boolean(busy)));
  }

  /** Enable the buttons that make sense for the selection (codes) and the tool. */
  enable({ selected, tool, busy, depth = null }) {
    const idle = !busy && (tool === "select" || tool.startsWith("paint"));
    this.merge.disabled = !idle || selected.length < 2;
    this.remove.disabled = !idle || selected.length !== 1;
    this.undo.disabled = Boolean(busy) || tool === "reshape" || depth?.undo === 0;
    this.redo.disabled = Boolean(busy) || tool === "reshape" || depth?.redo === 0;
    this.toolButtons.get("reshape").disabled = Boolean(busy) || selected.length !== 1;
    this.toolButtons.get("split").disabled = Boolean(busy) || selected.length !== 1;
  }

  say(kind, text) {
    this.status.dataset.kind = kind;
    this.status.textContent = text || "";
  }

  /** The row of buttons of the tool in use: [{id, key, run, primary?}] and extra nodes. */
  setActions(items) {
    this.actions.replaceChildren(
      ...items.map((it) => {
        if (it instanceof Node) return it;
        const b = button(it.id, it.key, { class: it.primary ? "plan-btn primary" : "plan-btn" });
        b.textContent = t(it.key, it.vars || null);
        b.disabled = Boolean(it.disabled);
        b.addEventListener("click", it.run);
        return b;
      }),
    );
  }

  // ---- the selection ----
  setSelected(codes, grids) {
    this.selected = codes;
    this.selectedGrids = grids;
    this.renderSelected();
  }

  renderSelected() {
    const codes = this.selected || [];
    const box = this.selectedBox;
    if (!codes.length) {
      box.replaceChildren(h("p", { class: "plan-hint", text: t("plan.select_hint") }));
      return;
    }
    if (codes.length > 1) {
      box.replaceChildren(h("p", { class: "plan-hint", text: t("plan.selected_n", { n: codes.length, codes: codes.map((c) => shortCode(c)).join(", ") }) }));
      return;
    }
    const p = this.selectedGrids?.get(codes[0])?.properties || {};
    const field = (id, key, value, type = "text") => {
      const input = h("input", { id, type, value: value ?? "", autocomplete: "off" });
      return [input, h("label", { class: "plan-field" }, h("span", { text: t(key) }), input)];
    };
    const [name, nameRow] = field("plan-name", "plan.name", p.name);
    const [worker, workerRow] = field("plan-worker", "plan.worker", p.worker);
    const [phone, phoneRow] = field("plan-phone", "plan.phone", p.worker_phone, "tel");
    const save = button("plan-attrs-save", "plan.attrs_save");
    save.textContent = t("plan.attrs_save");
    save.addEventListener("click", () => this.on.attrs({ name: name.value.trim() || null, worker: worker.value.trim() || null, worker_phone: phone.value.trim() || null }));
    box.replaceChildren(
      h("p", { class: "plan-code", text: `${codes[0]}` }),
      nameRow,
      workerRow,
      phoneRow,
      save,
      this.categoryBox,
    );
    this.renderCategories();
  }

  // ---- tabs ----
  showTab(name) {
    this.tab = name;
    for (const [n, b] of this.tabButtons) b.setAttribute("aria-selected", String(n === name));
    for (const [n, pane] of this.panes) pane.hidden = n !== name;
  }

  setFigures(figures, range) {
    this.figures = figures;
    this.range = range;
    this.renderFigures();
    this.renderCategories();
  }

  /**
   * The selected grid's visit categories: households and people of each, as the figures give
   * them — only to a reader of that grid's register (the admin); for everyone else the
   * figures hold none (null), and the box says the visits due are rounded.
   */
  renderCategories() {
    const box = this.categoryBox;
    const codes = this.selected || [];
    const row = codes.length === 1 ? this.figures.find((r) => r.code === codes[0]) : null;
    if (!row) {
      box.replaceChildren();
      return;
    }
    if (row.hardship_households === null || row.hardship_households === undefined) {
      const v = row.visit_households;
      const n = typeof v === "number" ? formatNumber(v, 0) : v ?? "—";
      box.replaceChildren(h("p", { class: "plan-hint", id: "plan-visits-note", text: t("plan.visits_rounded", { n }) }));
      return;
    }
    const head = h("tr", {}, h("th", { scope: "col", text: t("plan.cat.title") }), h("th", { scope: "col", text: t("plan.cat.households") }), h("th", { scope: "col", text: t("plan.cat.people") }));
    const body = h(
      "tbody",
      {},
      ...VISIT_CATEGORIES.map((c) =>
        h(
          "tr",
          { dataset: { category: c } },
          h("th", { scope: "row", text: t(`plan.cat.${c}`) }),
          h("td", { class: "households", text: figureText(row, `${c}_households`, 0) }),
          h("td", { class: "people", text: figureText(row, `${c}_people`, 0) }),
        ),
      ),
      h("tr", { class: "plan-cat-total" }, h("th", { scope: "row", text: t("plan.cat.any") }), h("td", { class: "households", text: figureText(row, "visit_households", 0) }), h("td")),
    );
    const details = h(
      "details",
      { id: "plan-categories-box", class: "plan-categories-box" },
      h("summary", { text: t("plan.cat.summary", { n: figureText(row, "visit_households", 0) }) }),
      h("table", { id: "plan-categories", class: "plan-table plan-categories" }, h("thead", {}, head), body),
    );
    details.open = Boolean(this.categoriesOpen); // kept open across the figures' refreshes
    details.addEventListener("toggle", () => (this.categoriesOpen = details.open));
    box.replaceChildren(details);
  }

  setNames(names) {
    this.names = names;
  }

  renderFigures() {
    const pane = this.panes.get("figures");
    const range = this.range || { min: 300, max: 500 };
    const min = h("input", { id: "plan-min", type: "number", min: "0", step: "10", value: range.min });
    const max = h("input", { id: "plan-max", type: "number", min: "0", step: "10", value: range.max });
    const apply = () => this.on.range(Number(min.value), Number(max.value));
    min.addEventListener("change", apply);
    max.addEventListener("change", apply);
    const legend = h(
      "div",
      { class: "plan-legend" },
      ...["under2", "under", "in", "over", "over2"].map((k) => {
        const swatch = h("i");
        swatch.style.background = DEVIATION_COLOURS[k]; // (a style attribute is refused by the CSP)
        return h("span", { class: "plan-swatch" }, swatch, t(`plan.dev.${k}`));
      }),
    );
    const rows = [...this.figures].sort((a, b) => {
      const k = this.sort.key;
      const va = a[k] ?? "";
      const vb = b[k] ?? "";
      return (va > vb ? 1 : va < vb ? -1 : 0) * this.sort.dir;
    });
    const rounded = this.figures.some((r) => r.visit_households_exact === false);
    const head = h(
      "tr",
      {},
      ...[["code", "plan.col.grid"], ...COLUMNS.map(([k, key]) => [k, key])].map(([k, key]) => {
        // rounded visits say so once, in the header (≈ in every cell would not fit the card)
        const label = k === "visit_households" && rounded ? `${t(key)} ≈` : t(key);
        const th = h("th", { scope: "col", tabindex: "0", title: t(`${key}.full`), "aria-label": t(`${key}.full`), "aria-sort": this.sort.key === k ? (this.sort.dir > 0 ? "ascending" : "descending") : "none", text: label });
        const go = () => {
          this.sort = { key: k, dir: this.sort.key === k ? -this.sort.dir : 1 };
          this.renderFigures();
        };
        th.addEventListener("click", go);
        th.addEventListener("keydown", (e) => e.key === "Enter" && go());
        return th;
      }),
    );
    const selected = new Set(this.selected || []);
    const body = h(
      "tbody",
      {},
      ...rows.map((r) => {
        const tr = h(
          "tr",
          { dataset: { code: r.code }, class: [r.in_range ? "" : "out", selected.has(r.code) ? "selected" : ""].join(" ").trim() },
          h("th", { scope: "row", title: this.names.get(r.code) || r.code, text: shortCode(r.code) }),
          ...COLUMNS.map(([k, , d]) => h("td", { text: figureText(r, k, d) })),
        );
        tr.addEventListener("click", (e) => this.on.pickGrid(r.code, e.shiftKey || e.ctrlKey || e.metaKey));
        return tr;
      }),
    );
    const inRange = this.figures.filter((r) => r.in_range).length;
    const propose = h("button", { type: "button", id: "plan-rebalance", class: "plan-btn", text: t("plan.rebalance") });
    propose.addEventListener("click", () => this.on.rebalance());
    const partition = h("button", { type: "button", id: "plan-auto", class: "plan-btn", text: t("plan.auto") });
    partition.addEventListener("click", () => this.on.partition());
    pane.replaceChildren(
      h("div", { class: "plan-range" }, h("label", {}, t("plan.range_min"), min), h("label", {}, t("plan.range_max"), max)),
      legend,
      h("p", { class: "plan-summary", id: "plan-summary", text: t("plan.summary", { n: this.figures.length, ok: inRange }) }, " ", propose, " ", partition),
      h("div", { class: "plan-table-wrap" }, h("table", { id: "plan-figures", class: "plan-table" }, h("thead", {}, head), body)),
    );
  }

  setFindings(findings) {
    this.findings = findings;
    this.renderFindings();
    const b = this.tabButtons.get("checks");
    b.dataset.count = String(findings.length);
  }

  renderFindings() {
    const pane = this.panes.get("checks");
    const zh = getLang() === "zh-CN";
    if (!this.findings.length) {
      pane.replaceChildren(h("p", { class: "plan-ok", id: "plan-findings-none", text: t("plan.no_findings") }));
      return;
    }
    const list = h(
      "ol",
      { id: "plan-findings", class: "plan-findings" },
      ...this.findings.map((f, i) => {
        const fixes = (f.fixes || []).map((fix, j) => {
          const b = h("button", { type: "button", class: "plan-fix", text: t(`plan.fix.${fix.op}`, { to: shortCode((fix.to || "")) }) });
          b.addEventListener("click", (e) => {
            e.stopPropagation();
            this.on.fix(i, j);
          });
          return b;
        });
        const li = h(
          "li",
          { dataset: { kind: f.kind }, tabindex: "0" },
          h("span", { class: "plan-kind", text: t(`plan.kind.${f.kind}`) }),
          h("span", { class: "plan-message", text: shortCodes(zh ? f.message_zh : f.message_en, f.grids) }),
          fixes.length ? h("span", { class: "plan-fixes" }, ...fixes) : null,
        );
        li.addEventListener("click", () => this.on.finding(i));
        li.addEventListener("keydown", (e) => e.key === "Enter" && this.on.finding(i));
        return li;
      }),
    );
    pane.replaceChildren(list);
  }

  setVersions(versions, comparing) {
    this.versions = versions;
    this.comparing = comparing;
    this.renderVersions();
  }

  renderVersions() {
    const pane = this.panes.get("versions");
    if (!this.versions.length) {
      pane.replaceChildren(h("p", { class: "plan-hint", text: t("plan.no_versions") }));
      return;
    }
    const actions = new Map(this.versions.map((v) => [Number(v.tx), v.action]));
    const list = h(
      "ol",
      { id: "plan-versions", class: "plan-versions" },
      ...this.versions.map((v, i) => {
        const compare = h("button", { type: "button", class: "plan-compare", "aria-pressed": String(this.comparing === v.tx), text: t(this.comparing === v.tx ? "plan.compare_off" : "plan.compare") });
        compare.addEventListener("click", () => this.on.compare(v.tx));
        const restore = h("button", { type: "button", class: "plan-restore", text: t("plan.restore"), disabled: i === 0 });
        restore.addEventListener("click", () => this.on.restore(v.tx));
        const at = new Date(v.at);
        return h(
          "li",
          { dataset: { tx: String(v.tx) } },
          h("span", { class: "plan-when" }, h("span", { class: "plan-vno", text: t("plan.version_no", { tx: v.tx }) }), " ", Number.isNaN(at.getTime()) ? v.at : at.toLocaleString(getLang())),
          h("span", { class: "plan-who", title: v.action, text: `${v.user} · ${describeAction(v.action, actions)}` }),
          h("span", { class: "plan-fixes" }, compare, restore),
        );
      }),
    );
    pane.replaceChildren(list);
  }
}
