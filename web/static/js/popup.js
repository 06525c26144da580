// The attribute popup of one feature: its name (or a readable stand-in) as the title, its code a
// line below, the other attributes with the schema's localized titles, coded values by their
// titles and numbers with units, then where the values come from (OpenStreetMap, the synthetic
// register, a default) with OSM ids in a small source line, and the buttons tools add
// (app.addPopupAction). Built with DOM calls (never innerHTML) since values are user data.

import { h } from "./dom.js";
import { pick, t } from "./i18n.js";
import { choiceLabel, columnTitle, formatValue } from "./format.js";

/** Columns that hold a feature's code or id: shown under the title, not in the table. */
const CODE_COLUMNS = ["code", "household_id", "incident_id", "visit_id"];
/** Columns of OSM ids: shown in the source line only. */
const OSM_COLUMNS = ["osm_id", "osmid", "u", "v", "key", "building_osm_id", "osm_tag"];
/** Columns that say where other values come from: shown as provenance lines. */
const SOURCE_COLUMNS = ["source", "levels_source", "households_source"];
/** The column that says what kind of thing a feature is, by layer. */
const TYPE_COLUMN = { buildings: "building", streets: "highway", facilities: "kind", cameras: "kind", incidents: "kind", street_nodes: "highway", visits: "category" };

const present = (v) => v !== null && v !== undefined && v !== "";

function columnOf(meta, name) {
  return (meta.columns || []).find((c) => c.name === name);
}

/** The value of column `name` as people read it (choice titles, units), or null. */
function text(meta, p, name) {
  if (!present(p[name])) return null;
  const col = columnOf(meta, name);
  return col ? formatValue(meta.name, col, p[name]) : String(p[name]);
}

/** The feature's type in words ("步行街", "警务站"), or null. */
function typeText(meta, p) {
  const col = TYPE_COLUMN[meta.name];
  return col ? text(meta, p, col) : null;
}

/**
 * The title of a feature: {text, column} — its name, else a readable stand-in: a building's
 * address or type, a street's class ("未命名道路（步行街）"), a household's address, an
 * incident's kind, a visit's category, else the layer's title and the feature's id.
 */
export function featureTitle(meta, feature) {
  const p = feature.properties || {};
  const id = feature.id !== undefined && feature.id !== null ? `#${feature.id}` : "";
  const kind = typeText(meta, p);
  const name = text(meta, p, "name");
  switch (meta.name) {
    case "streets":
      if (name) return { text: name, column: "name" };
      return { text: kind ? t("pick.unnamed.street.class", { class: kind }) : t("pick.unnamed.street"), column: null };
    case "buildings":
    case "households":
      if (meta.name === "buildings" && name) return { text: name, column: "name" };
      if (present(p.address)) return { text: String(p.address), column: "address" };
      if (meta.name === "households") return { text: t("pick.household"), column: null };
      return { text: `${kind || t("pick.unnamed.building")} ${id}`.trim(), column: null };
    case "incidents":
      if (kind) return { text: kind, column: "kind" };
      break;
    case "visits":
      if (kind) return { text: t("pick.visit.title", { category: kind }), column: "category" };
      break;
    default:
      if (name) return { text: name, column: "name" };
      if (kind) return { text: kind, column: null };
  }
  const code = CODE_COLUMNS.find((c) => present(p[c]));
  if (code) return { text: String(p[code]), column: code };
  return { text: `${pick(meta.title, meta.name)} ${id}`.trim(), column: null };
}

/** A one-line heading for a feature (its title; see featureTitle). */
export function featureHeading(meta, feature) {
  return featureTitle(meta, feature).text;
}

/** Does the line under the title say the feature's type (when the title is its name)? */
function typeInSubline(meta, p, title) {
  const typeCol = TYPE_COLUMN[meta.name];
  return Boolean(typeCol && present(p[typeCol]) && (title.column === "name" || title.column === "address"));
}

/** The line under the title: the feature's code and, when the title is a name, its type. */
function subline(meta, p, title) {
  const parts = [];
  const code = CODE_COLUMNS.find((c) => present(p[c]) && c !== title.column);
  if (code) {
    const span = h("span", { class: "gm-popup-code", text: String(p[code]) });
    span.dataset.field = "code";
    span.dataset.column = code;
    parts.push(span);
  }
  if (typeInSubline(meta, p, title)) {
    const span = h("span", { class: "gm-popup-kind", text: typeText(meta, p) });
    span.dataset.field = "kind";
    span.dataset.column = TYPE_COLUMN[meta.name];
    parts.push(span);
  }
  if (!parts.length) return null;
  const line = h("div", { class: "gm-popup-sub" });
  parts.forEach((part, i) => {
    if (i) line.append(h("span", { class: "gm-popup-dot", text: " · " }));
    line.append(part);
  });
  return line;
}

/** A provenance title: the UI's own words for a code when it has them, else the schema's. */
function provenance(meta, column, code, key) {
  const own = `pick.prov.${key}.${code}`;
  const said = t(own, null, "");
  return said && said !== own ? said : choiceLabel(meta.name, column, code);
}

/** Where the values come from: [{key, label, value}] lines. */
function provenanceLines(meta, p) {
  const lines = [];
  if (meta.name === "buildings") {
    const outline = present(p.osm_id) || p.source === "osm" ? "OpenStreetMap" : present(p.source) ? choiceLabel(meta.name, "source", p.source) : null;
    if (outline) lines.push({ key: "outline", label: t("pick.prov.outline"), value: outline });
    if (present(p.levels) && present(p.levels_source)) {
      lines.push({ key: "levels", label: t("pick.prov.levels"), value: provenance(meta, "levels_source", p.levels_source, "levels") });
    }
    if (present(p.households_source)) {
      lines.push({ key: "households", label: t("pick.prov.households"), value: provenance(meta, "households_source", p.households_source, "households") });
    }
  } else if (present(p.source)) {
    lines.push({ key: "source", label: t("pick.prov.source"), value: choiceLabel(meta.name, "source", p.source) });
  }
  return lines;
}

/** The OSM ids of a feature, in words: "OSM 道路 100101974 · 节点 1682376195 → 1157144984". */
function osmRefs(meta, p) {
  const refs = [];
  if (meta.name === "streets") {
    if (present(p.osmid)) refs.push(t("pick.osm.way", { id: p.osmid }));
    if (present(p.u) && present(p.v)) refs.push(t("pick.osm.edge", { u: p.u, v: p.v }) + (p.key ? ` #${p.key}` : ""));
  } else if (meta.name === "street_nodes") {
    if (present(p.osmid)) refs.push(t("pick.osm.node", { id: p.osmid }));
  } else {
    if (present(p.osm_id)) refs.push(t("pick.osm.id", { id: p.osm_id }));
    if (present(p.building_osm_id)) refs.push(t("pick.osm.building", { id: p.building_osm_id }));
    if (present(p.osm_tag)) refs.push(String(p.osm_tag));
  }
  return refs;
}

/** The popup's footer buttons: `actions` from app.popupActions(layer, feature). */
function actionBar(actions, feature) {
  if (!actions.length) return null;
  const bar = h("div", { class: "gm-popup-actions" });
  for (const action of actions) {
    const b = h("button", { class: "gm-popup-action", text: typeof action.label === "function" ? action.label() : String(action.label ?? action.id) });
    b.type = "button";
    b.dataset.action = action.id;
    b.addEventListener("click", (e) => {
      e.stopPropagation();
      action.run(feature);
    });
    bar.append(b);
  }
  return bar;
}

/**
 * The popup of `feature` of layer `layerMeta` (a layer of /api/workspace), with the buttons of
 * `actions` (the workbench's popup actions for it) in its footer. `refName(column, code)`: the
 * name of the grid or community a code column (grid_code, community_code) refers to, or null;
 * such a cell then reads the name, the code under it (td[data-code]).
 */
export function renderPopup(layerMeta, feature, { actions = [], refName = null } = {}) {
  const root = h("div", { class: "gm-popup" });
  root.dataset.layer = layerMeta.name;
  if (feature.id !== undefined) root.dataset.featureId = String(feature.id);
  const p = feature.properties || {};

  const title = featureTitle(layerMeta, feature);
  const heading = h("div", { class: "gm-popup-title", text: title.text });
  heading.dataset.field = "title";
  if (title.column) heading.dataset.titleColumn = title.column;
  root.append(h("div", { class: "gm-popup-layer", text: pick(layerMeta.title, layerMeta.name) }), heading);
  const sub = subline(layerMeta, p, title);
  if (sub) root.append(sub);

  const shown = new Set([title.column, ...CODE_COLUMNS.filter((c) => present(p[c])), ...OSM_COLUMNS, ...SOURCE_COLUMNS]);
  if (typeInSubline(layerMeta, p, title)) shown.add(TYPE_COLUMN[layerMeta.name]);
  const table = h("table", { class: "gm-popup-table" });
  for (const column of layerMeta.columns) {
    if (shown.has(column.name)) continue;
    const value = formatValue(layerMeta.name, column, p[column.name]);
    if (value === null) continue;
    const tr = h("tr");
    tr.dataset.column = column.name;
    const th = h("th", { text: columnTitle(layerMeta.name, column) });
    th.scope = "row";
    const td = h("td", { class: column.personal ? "personal" : null, text: value });
    const named = refName && column.name.endsWith("_code") ? refName(column.name, p[column.name]) : null;
    if (named) {
      // the row names what it refers to (所属社区), its code stands under the name
      th.textContent = t(`popup.ref.${column.name}`, {}, columnTitle(layerMeta.name, column));
      td.textContent = named;
      td.append(h("span", { class: "gm-popup-ref-code", text: String(p[column.name]) }));
    }
    if (column.name.endsWith("_code")) td.dataset.code = String(p[column.name]);
    tr.append(th, td);
    table.append(tr);
  }
  if (table.rows.length) root.append(table);
  else if (!sub) root.append(h("div", { class: "gm-popup-empty", text: t("popup.empty") }));

  const lines = provenanceLines(layerMeta, p);
  const refs = osmRefs(layerMeta, p);
  if (lines.length || refs.length) {
    const box = h("div", { class: "gm-popup-source" });
    for (const line of lines) {
      const div = h("div", { class: "gm-popup-prov" });
      div.dataset.provenance = line.key;
      div.append(h("span", { class: "gm-popup-prov-label", text: t("pick.prov.label", { label: line.label }) }), h("span", { class: "gm-popup-prov-value", text: line.value }));
      box.append(div);
    }
    if (refs.length) {
      const div = h("div", { class: "gm-popup-osm", text: refs.join(" · ") });
      div.dataset.provenance = "osm";
      box.append(div);
    }
    root.append(box);
  }
  const bar = actionBar(actions, feature);
  if (bar) root.append(bar);
  return root;
}
