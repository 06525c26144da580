// The attribute table's drawer (table.js): its elements, height, place beside the panel, the
// map control and the panel rows' buttons that open it, its labels, and the text of a cell.
// Functions of the AttributeTable they build for; the table's logic stays in table.js.

import { h, store, stored } from "./dom.js";
import { choiceLabel, formatValue } from "./format.js";
import { formatNumber, getLang, pick, t } from "./i18n.js";
import { addMapButton } from "./map_button.js";

export const PAGE_SIZES = [50, 100, 200, 500];
const HEIGHT_KEY = "gridmap.table.height";
const MIN_HEIGHT = 150;
/** Text columns whose values are codes with titles (choice.<layer>.<column>.<code>). */
const CODED = ["highway", "building", "target", "source"];
const ICON =
  '<svg width="16" height="12" viewBox="0 0 16 12" aria-hidden="true"><rect x="0.75" y="0.75" width="14.5" height="10.5" rx="1.5" fill="none" stroke="currentColor" stroke-width="1.4"/><path d="M0.75 4.25h14.5M0.75 7.75h14.5M6 0.75v10.5" stroke="currentColor" stroke-width="1.2" fill="none"/></svg>';

/** Fill #table-drawer: the handle, the bar (layer, quick filters, options, pages), notes, the grid. */
export function buildDrawer(table) {
  const root = table.root;
  root.classList.add("tbl-drawer");
  root.setAttribute("role", "region");
  table.handle = h("div", { class: "tbl-resize", role: "separator", tabindex: "0", "aria-orientation": "horizontal", "aria-controls": "table-drawer" });
  table.picker = h("select", { id: "table-layer" });
  table.picker.addEventListener("change", () => table.show(table.picker.value));
  table.pickerLabel = h("label", { class: "tbl-picker", for: "table-layer" });
  table.quick = h("div", { class: "tbl-quick", id: "table-quick" });
  table.inView = h("input", { type: "checkbox", id: "table-in-view" });
  table.inView.addEventListener("change", () => table.setOption("inView", table.inView.checked));
  table.inViewLabel = h("span");
  table.selectedOnly = h("input", { type: "checkbox", id: "table-selected" });
  table.selectedOnly.addEventListener("change", () => table.setOption("selectedOnly", table.selectedOnly.checked));
  table.selectedLabel = h("span");
  table.clear = h("button", { type: "button", id: "table-clear", class: "tbl-btn" });
  table.clear.addEventListener("click", () => table.clearFilters());
  table.pager = h("div", { class: "tbl-pager", role: "group" });
  table.buttons = {};
  for (const [id, glyph] of [["first", "«"], ["prev", "‹"], ["range", null], ["next", "›"], ["last", "»"]]) {
    if (id === "range") {
      table.range = h("span", { id: "table-range", class: "tbl-range-text", "aria-live": "polite" });
      table.pager.append(table.range);
      continue;
    }
    const b = h("button", { type: "button", class: "tbl-btn tbl-page", dataset: { page: id } }, glyph);
    b.addEventListener("click", () => table.turn(id));
    table.buttons[id] = b;
    table.pager.append(b);
  }
  table.size = h("select", { id: "table-page-size" });
  for (const n of PAGE_SIZES) table.size.append(h("option", { value: String(n) }, String(n)));
  table.size.value = String(table.pageSize);
  table.size.addEventListener("change", () => {
    table.pageSize = Number(table.size.value);
    table.state().offset = 0;
    table.load();
  });
  table.pager.append(table.size);
  table.closer = h("button", { type: "button", id: "table-close", class: "tbl-btn tbl-close" }, "×");
  table.closer.addEventListener("click", () => table.close());
  const bar = h("div", { class: "tbl-bar" });
  bar.append(
    table.pickerLabel,
    table.picker,
    table.quick,
    h("label", { class: "tbl-check" }),
    h("label", { class: "tbl-check" }),
    table.clear,
    h("span", { class: "tbl-spacer" }),
    table.pager,
    table.closer,
  );
  bar.children[3].append(table.inView, table.inViewLabel);
  bar.children[4].append(table.selectedOnly, table.selectedLabel);
  table.note = h("div", { class: "tbl-note", id: "table-note", role: "status" });
  table.peopleNote = h("p", { class: "tbl-people-note", id: "table-people-note" });
  table.grid = h("table", { class: "tbl-grid", id: "table-grid" });
  table.head = h("thead");
  table.body = h("tbody");
  table.grid.append(table.head, table.body);
  table.scroll = h("div", { class: "tbl-scroll" });
  table.scroll.append(table.grid);
  root.replaceChildren(table.handle, bar, table.note, table.peopleNote, table.scroll);
  table.body.addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-id]");
    if (tr) table.focusRow(tr);
  });
  table.body.addEventListener("keydown", (e) => table.onRowKey(e));
  resizable(table);
  fillPicker(table);
  table.peopleNote.hidden = true; // shown beside the households (table.show)
  root.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !e.target.closest("select, input")) table.close();
  });
  // keep clear of the panel, collapsed or not
  new MutationObserver(() => place(table)).observe(document.getElementById("panel"), { attributes: true, attributeFilter: ["class"] });
  window.addEventListener("resize", () => place(table));
  const saved = Number(stored(HEIGHT_KEY));
  setHeight(table, Number.isFinite(saved) && saved >= MIN_HEIGHT ? saved : Math.round(window.innerHeight * 0.38));
}

/** The layer list: the layers the reader gets rows of (and people as figures, not to pick). */
export function fillPicker(table) {
  const options = table.layers.map((l) => h("option", { value: l.name }, pick(l.title, l.name)));
  if (table.peopleHidden) {
    options.push(h("option", { value: "", disabled: true }, t("table.people.option")));
  }
  table.picker.replaceChildren(...options);
  if (table.layer) table.picker.value = table.layer;
}

/** Keep the drawer right of the panel (collapsed or not) and within the window. */
export function place(table) {
  const left = (table.app.panel?.coveredWidth?.() || 0) + 12;
  table.root.style.left = `${Math.min(left, Math.max(12, window.innerWidth - 480))}px`;
  setHeight(table, table.height || MIN_HEIGHT, false);
}

/** Set the drawer's height in pixels (kept between the minimum and the window's), remembered. */
export function setHeight(table, px, save = true) {
  const top = window.innerHeight - 140;
  table.height = Math.round(Math.max(MIN_HEIGHT, Math.min(px, top)));
  table.root.style.height = `${table.height}px`;
  table.handle.setAttribute("aria-valuenow", String(table.height));
  if (save) store(HEIGHT_KEY, String(table.height));
}

/** Drag the handle, or press ↑ ↓ PageUp PageDown on it, to change the height. */
export function resizable(table) {
  let start = null;
  table.handle.addEventListener("pointerdown", (e) => {
    start = { y: e.clientY, h: table.height };
    table.handle.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  table.handle.addEventListener("pointermove", (e) => {
    if (start) setHeight(table, start.h + (start.y - e.clientY), false);
  });
  const end = () => {
    if (start) setHeight(table, table.height);
    start = null;
  };
  table.handle.addEventListener("pointerup", end);
  table.handle.addEventListener("pointercancel", end);
  table.handle.addEventListener("keydown", (e) => {
    const step = { ArrowUp: 40, ArrowDown: -40, PageUp: 160, PageDown: -160 }[e.key];
    if (!step) return;
    e.preventDefault();
    setHeight(table, table.height + step);
  });
}

/** The map control "属性表 / Table" that opens and closes the drawer. */
export function addControl(table) {
  const { control, button } = addMapButton(table.app.map, {
    bar: "tbl-control",
    button: "tbl-toggle",
    id: "table-toggle",
    icon: ICON,
    attrs: { "aria-controls": "table-drawer", "aria-pressed": "false" },
    onClick: () => (table.isOpen() ? table.close() : table.open()),
  });
  button.append(h("span", { class: "tbl-toggle-text" }));
  table.toggle = button;
  // beside the zoom buttons, not below them: the legend card takes the right side lower down
  const box = control.getContainer();
  const zoom = box.parentElement.querySelector(".leaflet-control-zoom");
  if (zoom) zoom.after(box);
}

/** A table button on each layer's row of the panel (next to its download button). */
export function addPanelButtons(table) {
  table.rowButtons = [];
  for (const meta of table.layers) {
    const row = document.querySelector(`[data-layer-row="${CSS.escape(meta.name)}"]`);
    const count = row?.querySelector(".layer-count");
    if (!count) continue;
    const b = h("button", { type: "button", class: "tbl-open", dataset: { tableOpen: meta.name } });
    b.innerHTML = ICON; // static markup
    b.addEventListener("click", () => table.open(meta.name));
    count.after(b);
    table.rowButtons.push({ b, meta });
  }
}

/** A value as the table shows it: titles of codes, 是/否, grouped numbers, local times; masks as served. */
export function cellText(table, col, value) {
  if (value === null || value === undefined || value === "") return "";
  if (value === (table.ws.masked_value || "***")) return value;
  switch (col.type) {
    case "bool":
      return value ? t("yes") : t("no");
    case "int":
      return typeof value === "number" && col.unit ? formatNumber(value) : String(value);
    case "float":
      return typeof value === "number" ? formatNumber(value, col.unit === "m²" || Math.abs(value) >= 100 ? 0 : 1) : String(value);
    case "datetime":
      return formatValue(table.layer, col, value) ?? "";
    default:
      return col.choices || CODED.includes(col.name) ? choiceLabel(table.layer, col.name, value) : String(value);
  }
}

/** Label the drawer's controls in the page's language. */
export function relabelDrawer(table) {
  table.root.setAttribute("aria-label", t("table.aria"));
  table.handle.setAttribute("aria-label", t("table.resize"));
  table.handle.title = t("table.resize");
  table.pickerLabel.textContent = t("table.layer");
  table.inViewLabel.textContent = t("table.in_view");
  table.clear.textContent = t("table.clear");
  table.closer.title = t("table.close");
  table.closer.setAttribute("aria-label", t("table.close"));
  table.size.title = t("table.page_size");
  table.size.setAttribute("aria-label", t("table.page_size"));
  table.pager.setAttribute("aria-label", t("table.pages"));
  for (const [id, b] of Object.entries(table.buttons)) {
    b.title = t(`table.page.${id}`);
    b.setAttribute("aria-label", b.title);
  }
  const figures = h("a", { href: "api/figures/register?format=csv", download: "figures-register.csv" }, t("table.people.download"));
  table.peopleNote.replaceChildren(t("table.people.figures"), " ", figures);
  if (table.toggle) {
    table.toggle.querySelector(".tbl-toggle-text").textContent = t("table.button");
    table.toggle.title = t("table.button.title");
  }
  for (const { b, meta } of table.rowButtons) {
    b.title = t("table.open", { layer: pick(meta.title, meta.name) });
    b.setAttribute("aria-label", b.title);
  }
  fillPicker(table);
  table.grid.setAttribute("aria-label", t("table.aria"));
  table.root.lang = getLang();
}
