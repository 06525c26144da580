// What the attribute table's drawer shows of a page (table.js): the header with its sort buttons
// and filter row (table_filters.js), the rows, the range and pager, the options, the quick
// filters of incidents and the chips of conditions the filter row cannot show. Functions of the
// AttributeTable they draw for.

import { h } from "./dom.js";
import { columnTitle } from "./format.js";
import { formatNumber, t } from "./i18n.js";
import { cellText } from "./table_drawer.js";
import { RANGES, applyRange, fillChoices, filterCell } from "./table_filters.js";

/** Whether the reader's view of a layer has a place on the map (a bbox can select its rows). */
export function placed(meta) {
  return Boolean(meta.geometry || meta.located_by);
}

/** The header: a title row (sort buttons where the column can be filtered) and the filter row. */
export function renderHead(table) {
  const cols = table.columns();
  const titles = h("tr", { class: "tbl-titles" });
  const filters = h("tr", { class: "tbl-filters" });
  const ctx = { layer: table.layer, state: table.state(), changed: () => table.changed(), values: (c, n) => table.values(c, n) };
  for (const col of cols) {
    const title = columnTitle(table.layer, col);
    const unit = col.unit ? t(`unit.${col.unit}`, null, col.unit) : "";
    const th = h("th", { scope: "col", dataset: { column: col.name } });
    const text = h("span", { class: "tbl-title" }, title);
    const parts = [text];
    if (unit) parts.push(h("span", { class: "tbl-unit" }, `(${unit})`));
    if (col.filterable) {
      const b = h("button", { type: "button", class: "tbl-sort", dataset: { sort: col.name } });
      b.append(...parts, h("span", { class: "tbl-arrow", "aria-hidden": "true" }));
      b.addEventListener("click", () => table.sortBy(col.name));
      th.append(b);
    } else {
      th.append(...parts);
      th.title = t("table.not_filterable");
    }
    titles.append(th);
    filters.append(filterCell({ ...ctx, columns: cols }, { ...col, title }));
  }
  table.head.replaceChildren(titles, filters);
  renderSortMarks(table);
}

/** The sort arrows and aria-sort of the headers, as the layer's state has them. */
export function renderSortMarks(table) {
  const sort = table.state().sort;
  for (const th of table.head.querySelectorAll("th[data-column]")) {
    const on = sort && sort.column === th.dataset.column;
    const state = on ? (sort.desc ? "descending" : "ascending") : "none";
    th.setAttribute("aria-sort", state);
    const arrow = th.querySelector(".tbl-arrow");
    if (arrow) arrow.textContent = on ? (sort.desc ? "▼" : "▲") : "";
    const b = th.querySelector(".tbl-sort");
    if (b) b.title = t(on && !sort.desc ? "table.sort.desc" : "table.sort.asc");
  }
}

/** The rows of the last page (a note when there are none), the selection marked, the range. */
export function renderRows(table) {
  const cols = table.columns();
  const rows = table.page?.rows || [];
  const mask = table.ws.masked_value || "***";
  const out = rows.map((row) => {
    const tr = h("tr", { tabindex: "0", dataset: { id: String(row.id) } });
    if (row.bbox) tr.dataset.bbox = row.bbox.join(",");
    for (const col of cols) {
      const v = row[col.name];
      const td = h("td", {}, cellText(table, col, v));
      if (col.type === "int" || col.type === "float") td.classList.add("num");
      if (v === mask) {
        td.classList.add("masked");
        td.title = t("value.masked");
      }
      tr.append(td);
    }
    return tr;
  });
  if (!out.length) {
    const tr = h("tr");
    tr.append(h("td", { colspan: String(Math.max(1, cols.length)), class: "tbl-empty" }, t("table.empty")));
    out.push(tr);
  }
  table.body.replaceChildren(...out);
  table.scroll.scrollTop = 0;
  markSelected(table);
  renderRange(table);
}

/** Mark the selected rows and the one last focused on the map. */
export function markSelected(table) {
  const chosen = new Set(table.app.selected(table.layer).map(String));
  for (const tr of table.body.querySelectorAll("tr[data-id]")) {
    tr.classList.toggle("tbl-selected", chosen.has(tr.dataset.id));
    tr.classList.toggle("tbl-current", tr.dataset.id === String(table.current));
    tr.setAttribute("aria-selected", String(chosen.has(tr.dataset.id)));
  }
}

/** "1–100 of 1,234" and the pager's buttons. */
export function renderRange(table) {
  const page = table.page;
  if (!page) {
    table.range.textContent = "";
    return;
  }
  const n = page.numberMatched;
  const from = n ? page.offset + 1 : 0;
  const to = page.offset + page.rows.length;
  table.range.textContent = n ? t("table.range", { from: formatNumber(from), to: formatNumber(to), total: formatNumber(n) }) : t("table.range.none");
  const atStart = page.offset === 0;
  const atEnd = to >= n;
  table.buttons.first.disabled = table.buttons.prev.disabled = atStart;
  table.buttons.next.disabled = table.buttons.last.disabled = atEnd;
}

/** The "in view" and "selected only" checkboxes, as the layer and the selection allow. */
export function renderOptions(table) {
  const s = table.state();
  const meta = table.meta.get(table.layer);
  table.inView.disabled = !placed(meta);
  table.inView.checked = s.inView && placed(meta);
  table.inView.parentElement.title = placed(meta) ? "" : t("table.in_view.none");
  const n = table.app.selected(table.layer).length;
  table.selectedOnly.disabled = !n && !s.selectedOnly;
  table.selectedOnly.checked = s.selectedOnly;
  table.selectedLabel.textContent = n ? t("table.selected.n", { n: formatNumber(n) }) : t("table.selected");
}

/** Incidents: the last 7/30/90 days or a custom range, kind and status, above the table. */
export function renderQuick(table) {
  table.quick.replaceChildren();
  table.quick.hidden = table.layer !== "incidents";
  if (table.quick.hidden) return;
  const s = table.state();
  const cols = new Map(table.columns().map((c) => [c.name, c]));
  const time = cols.get("occurred_at");
  if (time?.filterable) {
    const select = h("select", { id: "table-quick-range", "aria-label": t("table.quick.range") });
    for (const r of ["all", ...RANGES, "custom"]) select.append(h("option", { value: r }, t(`table.quick.range.${r}`)));
    select.value = s.range;
    select.addEventListener("change", () => {
      applyRange(s, "occurred_at", select.value, table.ws.timezone);
      renderHead(table);
      if (select.value === "custom") table.head.querySelector('[data-filter-from="occurred_at"]')?.focus();
      table.changed();
    });
    table.quick.append(select);
  }
  for (const name of ["kind", "status"]) {
    const col = cols.get(name);
    if (!col?.filterable) continue;
    const select = h("select", { dataset: { quick: name }, "aria-label": columnTitle(table.layer, col) });
    fillChoices(select, table.layer, col);
    select.options[0].textContent = t("table.quick.all", { column: columnTitle(table.layer, col) });
    select.value = s.conds[name]?.choice || "";
    select.addEventListener("change", () => {
      s.conds[name] = { ...(s.conds[name] || {}), choice: select.value };
      renderHead(table);
      table.changed();
    });
    table.quick.append(select);
  }
}

/** Conditions set elsewhere that the filter row cannot show: chips that remove them. */
export function renderExtra(table) {
  const s = table.state();
  const chips = s.extra.map((w) => {
    const b = h("button", { type: "button", class: "tbl-chip", dataset: { extra: w } }, `${w} ×`);
    b.title = t("table.extra.remove");
    b.addEventListener("click", () => {
      s.extra = s.extra.filter((x) => x !== w);
      table.changed();
    });
    return b;
  });
  if (!table.root.dataset.state?.startsWith("error")) table.note.replaceChildren(...(chips.length ? [h("span", {}, t("table.extra")), ...chips] : []));
}
