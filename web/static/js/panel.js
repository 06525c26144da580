// The layer panel (base maps, layers with counts and swatches, attribute tables) and the legend
// card. Plain DOM; every label is looked up again on a language switch.

import { h } from "./dom.js";
import { formatNumber, getLang, pick, t } from "./i18n.js";
import { swatch } from "./styles.js";

/** How the reader is served a layer, when it is not in full: masked, or their own grids only. */
function restricted(meta) {
  return meta.read === "masked" || meta.read === "own";
}

/** A layer with a place on the map that the reader's masked view leaves out (visits). */
export function unplaced(meta) {
  return meta.read === "masked" && !meta.geometry && !meta.located_by;
}

function readBadge(meta) {
  return restricted(meta) ? h("span", { class: `read-badge read-${meta.read}`, dataset: { read: meta.read } }) : null;
}

function readText(meta, ws) {
  return readSentence(meta.read, ws);
}

function readSentence(read, ws) {
  const sep = getLang() === "zh-CN" ? "、" : ", ";
  const grids = (ws.grids || []).join(sep);
  // the layers served this way, so that a grid worker reads which layers are masked
  const layers = ws.layers.filter((l) => restricted(l) && l.read === read).map((l) => pick(l.title, l.name)).join(sep);
  return t(`layer.read.${read}.note`, { grids, layers });
}

const TABLE_ICON =
  '<svg width="22" height="14" viewBox="0 0 22 14" aria-hidden="true" class="swatch"><rect x="3.5" y="1.5" width="15" height="11" rx="1.5" fill="#fff" stroke="#6c7a89"/><path d="M3.5 5.2h15M3.5 8.8h15M9 1.5v11" stroke="#6c7a89" fill="none"/></svg>';

export class Panel {
  /**
   * @param {object} ws the workspace from /api/workspace
   * @param {object} hooks {layerSwatch(name, geometry), exportControls(meta) → [download button,
   *   its message line], onToggle(name, on), onBase(id), onLang(), onCollapse(collapsed)}
   */
  constructor(ws, hooks) {
    this.ws = ws;
    this.hooks = hooks;
    this.root = document.getElementById("panel");
    this.rows = new Map();
    this.build();
  }

  build() {
    const { ws, hooks } = this;
    const body = this.root.querySelector(".panel-body");
    body.replaceChildren();

    // Base maps: the workspace map, then any tile layers the admin configured.
    this.baseList = h("ul", { class: "base-list", id: "base-list" });
    const bases = [{ id: "workspace", title: () => t("basemap.workspace") }, ...ws.tiles.map((e) => ({ id: `tile:${e.id}`, title: () => pick(e.title, e.id) }))];
    this.bases = bases;
    for (const base of bases) {
      const input = h("input", { type: "radio", name: "basemap", value: base.id, dataset: { basemap: base.id } });
      input.addEventListener("change", () => input.checked && hooks.onBase(base.id));
      const title = h("span", { class: "base-title" });
      base.el = title;
      base.input = input;
      this.baseList.append(h("li", { class: "base-row" }, h("label", {}, input, title)));
    }
    this.baseHeading = h("h2", { class: "panel-heading" });
    body.append(h("section", { class: "panel-section", id: "panel-base" }, this.baseHeading, this.baseList));

    // Data layers, topmost first (as in desktop GIS); attribute tables below.
    this.layerHeading = h("h2", { class: "panel-heading" });
    const list = h("ul", { class: "layer-list", id: "layer-list" });
    const tables = h("ul", { class: "layer-list table-list", id: "table-list" });
    const drawable = ws.layers.filter((l) => l.geometry).reverse();
    for (const meta of drawable) {
      const input = h("input", { type: "checkbox", dataset: { layer: meta.name }, id: `layer-${meta.name}` });
      input.addEventListener("change", () => hooks.onToggle(meta.name, input.checked));
      const [download, downloadMsg] = hooks.exportControls(meta);
      const row = h(
        "li",
        { class: "layer-row", dataset: { layerRow: meta.name, state: "off" } },
        h(
          "label",
          { class: "layer-toggle", for: `layer-${meta.name}` },
          input,
          h("span", { class: "layer-swatch" }, swatch(hooks.layerSwatch(meta.name, meta.geometry))),
          h("span", { class: "layer-title" }),
          readBadge(meta),
        ),
        h("span", { class: "layer-count" }),
        download,
        h("div", { class: "layer-msg", role: "status" }),
        downloadMsg,
      );
      this.rows.set(meta.name, { meta, row, input });
      list.append(row);
    }
    for (const meta of ws.layers.filter((l) => !l.geometry)) {
      const icon = h("span", { class: "layer-swatch" });
      icon.innerHTML = TABLE_ICON; // static markup
      const [download, downloadMsg] = hooks.exportControls(meta);
      const row = h(
        "li",
        { class: "layer-row table-row", dataset: { layerRow: meta.name, state: "table", ...(unplaced(meta) ? { unplaced: "masked" } : {}) } },
        h("div", { class: "layer-toggle" }, icon, h("span", { class: "layer-title" }), readBadge(meta)),
        h("span", { class: "layer-count" }),
        download,
        h("div", { class: "layer-note" }),
        downloadMsg,
      );
      this.rows.set(meta.name, { meta, row, input: null });
      tables.append(row);
    }
    body.append(h("section", { class: "panel-section", id: "panel-layers" }, this.layerHeading, list));
    if (tables.children.length) {
      this.tableHeading = h("h2", { class: "panel-heading" });
      body.append(h("section", { class: "panel-section", id: "panel-tables" }, this.tableHeading, tables));
    }

    // One line per way some layers are served restricted (masked; a grid worker's own grids).
    const reads = [...new Set(ws.layers.filter(restricted).map((l) => l.read))].sort();
    this.readNotes = reads.map((read) => {
      const line = h("p", { class: "read-note", dataset: { readNote: read } }, h("span", { class: `read-badge read-${read}` }), h("span", { class: "read-note-text" }));
      return { read, line };
    });
    if (this.readNotes.length) {
      body.append(h("section", { class: "panel-section read-notes", id: "read-notes" }, ...this.readNotes.map((n) => n.line)));
    }

    document.getElementById("lang-switch").addEventListener("click", () => hooks.onLang());
    const toggle = document.getElementById("panel-toggle");
    toggle.addEventListener("click", () => this.setCollapsed(!this.root.classList.contains("collapsed")));
    const legendToggle = document.getElementById("legend-toggle");
    legendToggle.addEventListener("click", () => {
      const card = document.getElementById("legend-card");
      const collapsed = card.classList.toggle("collapsed");
      legendToggle.setAttribute("aria-expanded", String(!collapsed));
    });
  }

  setCollapsed(collapsed) {
    this.root.classList.toggle("collapsed", collapsed);
    const toggle = document.getElementById("panel-toggle");
    toggle.setAttribute("aria-expanded", String(!collapsed));
    this.relabel();
    this.hooks.onCollapse?.(collapsed);
  }

  /** Width the panel takes from the map's left edge (for fitting bounds beside it). */
  coveredWidth() {
    if (this.root.classList.contains("collapsed")) return 0;
    const r = this.root.getBoundingClientRect();
    return Math.round(r.right);
  }

  setChecked(name, on) {
    const r = this.rows.get(name);
    if (r?.input) r.input.checked = on;
  }

  setBase(id) {
    for (const b of this.bases) b.input.checked = b.id === id;
  }

  /**
   * state: off | loading | drawn | error; `message` (text, or a function that gives it in the
   * current language) is shown under the row.
   */
  setLayerState(name, state, message = "") {
    const r = this.rows.get(name);
    if (!r) return;
    r.row.dataset.state = state;
    r.message = message;
    this.relabelRow(name);
  }

  relabelRow(name) {
    const { meta, row, message: given } = this.rows.get(name);
    const message = typeof given === "function" ? given() : given;
    row.querySelector(".layer-title").textContent = pick(meta.title, meta.name);
    const count = row.querySelector(".layer-count");
    const empty = meta.count === 0;
    row.classList.toggle("layer-empty", empty);
    if (empty) count.textContent = t("layer.empty");
    else count.textContent = meta.geometry ? formatNumber(meta.count) : t("layer.rows", { n: formatNumber(meta.count ?? 0) });
    count.title = t("layer.count.title");
    const note = row.querySelector(".layer-note");
    if (note) note.textContent = t(unplaced(meta) ? "layer.unplaced_note" : "layer.table_note");
    const badge = row.querySelector(".read-badge");
    if (badge) {
      badge.textContent = t(`layer.read.${meta.read}`);
      badge.title = readText(meta, this.ws);
    }

    const msg = row.querySelector(".layer-msg");
    if (msg) {
      const state = row.dataset.state;
      msg.textContent = state === "loading" ? t("layer.loading") : state === "error" ? `${t("layer.error")}${message ? ` (${message})` : ""}` : "";
    }
  }

  relabel() {
    this.baseHeading.textContent = t("panel.basemaps");
    this.layerHeading.textContent = t("panel.layers");
    if (this.tableHeading) this.tableHeading.textContent = t("panel.tables");
    for (const { read, line } of this.readNotes) {
      line.querySelector(".read-badge").textContent = t(`layer.read.${read}`);
      line.querySelector(".read-note-text").textContent = readSentence(read, this.ws);
    }
    for (const b of this.bases) b.el.textContent = b.title();
    for (const name of this.rows.keys()) this.relabelRow(name);
    const sw = document.getElementById("lang-switch");
    sw.textContent = t("lang.switch");
    sw.title = t("lang.switch.title");
    const toggle = document.getElementById("panel-toggle");
    const collapsed = this.root.classList.contains("collapsed");
    toggle.title = collapsed ? t("panel.expand") : t("panel.collapse");
    toggle.setAttribute("aria-label", toggle.title);
    document.getElementById("app-title").textContent = t("app.title");
    document.getElementById("ws-title").textContent = this.ws.title || this.ws.name || "";
    document.getElementById("legend-title").textContent = t("panel.legend");
  }
}

/**
 * Fill the legend card. sections: [{id, title: () => str, entries: [{swatch, label: () => str, count}]}]
 */
export function renderLegend(sections) {
  const box = document.getElementById("legend");
  box.replaceChildren();
  if (!sections.length) {
    box.append(h("p", { class: "legend-empty", text: t("panel.legend.empty") }));
    return;
  }
  for (const s of sections) {
    const list = h("ul", { class: "legend-list" });
    for (const e of s.entries) {
      const label = e.label();
      if (!label) continue;
      list.append(
        h(
          "li",
          { class: "legend-item" },
          h("span", { class: "legend-swatch" }, swatch(e.swatch)),
          h("span", { class: "legend-label", text: label }),
          e.count !== undefined ? h("span", { class: "legend-count", text: formatNumber(e.count) }) : null,
        ),
      );
    }
    box.append(h("section", { class: "legend-section", dataset: { legend: s.id } }, h("h3", { class: "legend-heading", text: s.title() }), list));
  }
}
