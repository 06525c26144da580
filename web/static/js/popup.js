// The attribute popup: every non-empty attribute of the clicked feature, with the schema's
// localized column titles. Built with DOM calls (never innerHTML) since values are user data.

import { pick, t } from "./i18n.js";
import { columnTitle, formatValue } from "./format.js";

const TITLE_COLUMNS = ["name", "code", "household_id", "visit_id", "incident_id", "address"];
const TYPE_COLUMNS = ["kind", "building", "highway", "category"];

/** A one-line heading for a feature: its name, else its code, id or address, else its type. */
export function featureHeading(layerMeta, feature) {
  const p = feature.properties || {};
  const present = (c) => p[c] !== null && p[c] !== undefined && p[c] !== "";
  const text = (c) => {
    const col = layerMeta.columns.find((x) => x.name === c);
    return col ? formatValue(layerMeta.name, col, p[c]) : String(p[c]);
  };
  const main = TITLE_COLUMNS.find(present);
  if (main) return text(main);
  const id = feature.id !== undefined ? `#${feature.id}` : "";
  const type = TYPE_COLUMNS.find(present);
  return type ? `${text(type)} ${id}`.trim() : id;
}

export function renderPopup(layerMeta, feature) {
  const root = document.createElement("div");
  root.className = "gm-popup";
  root.dataset.layer = layerMeta.name;
  if (feature.id !== undefined) root.dataset.featureId = String(feature.id);

  const kicker = document.createElement("div");
  kicker.className = "gm-popup-layer";
  kicker.textContent = pick(layerMeta.title, layerMeta.name);
  const heading = document.createElement("div");
  heading.className = "gm-popup-title";
  heading.textContent = featureHeading(layerMeta, feature);
  root.append(kicker, heading);

  const table = document.createElement("table");
  table.className = "gm-popup-table";
  const p = feature.properties || {};
  let rows = 0;
  for (const column of layerMeta.columns) {
    const text = formatValue(layerMeta.name, column, p[column.name]);
    if (text === null) continue;
    const tr = document.createElement("tr");
    tr.dataset.column = column.name;
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = columnTitle(layerMeta.name, column);
    const td = document.createElement("td");
    td.textContent = text;
    if (column.personal) td.classList.add("personal");
    tr.append(th, td);
    table.append(tr);
    rows += 1;
  }
  if (rows) {
    root.append(table);
  } else {
    const empty = document.createElement("div");
    empty.className = "gm-popup-empty";
    empty.textContent = t("popup.empty");
    root.append(empty);
  }
  return root;
}
