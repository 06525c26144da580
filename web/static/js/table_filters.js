// The attribute table's filters (table.js): per-column conditions kept as plain state, turned
// into the API's `where` syntax (gridmap.service.filters) and back, and the filter row's inputs.
//
// A layer's state: {conds: {column: {text, choice, min, max, from, to}}, extra: [wheres],
// range: "all" | "7" | "30" | "90" | "custom"}. `extra` holds conditions set elsewhere
// (app.setFilter by another tool) that the filter row cannot show; they stay in force, listed
// as chips the user can remove.
//
//   text contains (~) for text, one choice (=) for coded columns and yes/no, min/max (>=, <=)
//   for numbers, from/to (>=, <=: whole local days) for dates and times.

import { h } from "./dom.js";
import { choiceLabel } from "./format.js";
import { formatNumber, t } from "./i18n.js";

const CONDITION = /^([A-Za-z_][A-Za-z0-9_]*)(~|>=|<=|=)(.*)$/s;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** Quick date ranges of incidents, in days back from today. */
export const RANGES = ["7", "30", "90"];

export function emptyState() {
  return { conds: {}, extra: [], range: "all" };
}

function isNumber(column) {
  return column.type === "int" || column.type === "float";
}

function isDate(column) {
  return column.type === "date" || column.type === "datetime";
}

/** Coded columns and yes/no are filtered by one of their values. */
export function isChoice(column) {
  return column.type === "bool" || Boolean(column.choices);
}

/** A value in an `=` condition: its commas escaped (a comma list means "any of these"). */
function escapeValue(value) {
  return String(value).replace(/,/g, "\\,");
}

function given(v) {
  return v !== undefined && v !== null && v !== "";
}

/** The `where` conditions of a layer's state, in column order, then the extra ones. */
export function wheresOf(state, columns) {
  const out = [];
  for (const col of columns) {
    const c = state.conds[col.name];
    if (!c || !col.filterable) continue;
    const n = col.name;
    if (given(c.text)) out.push(`${n}~${c.text}`);
    if (given(c.choice)) out.push(`${n}=${escapeValue(c.choice)}`);
    if (given(c.min)) out.push(`${n}>=${c.min}`);
    if (given(c.max)) out.push(`${n}<=${c.max}`);
    if (given(c.from)) out.push(`${n}>=${c.from}`);
    if (given(c.to)) out.push(`${n}<=${c.to}`);
  }
  return [...out, ...state.extra.filter((w) => !out.includes(w))];
}

/** The same conditions, however they are ordered. */
export function sameWheres(a, b) {
  const key = (list) => JSON.stringify([...(list || [])].sort());
  return key(a) === key(b);
}

/** A state holding `wheres`: those the filter row can show in its inputs, the others as extra. */
export function stateOf(wheres, columns, range = "all") {
  const state = { conds: {}, extra: [], range };
  const byName = new Map(columns.map((c) => [c.name, c]));
  for (const w of wheres || []) {
    const m = CONDITION.exec(w);
    const col = m && byName.get(m[1]);
    if (!col || !col.filterable) {
      state.extra.push(w);
      continue;
    }
    const [, name, op, value] = m;
    const c = (state.conds[name] = state.conds[name] || {});
    const put = (key, v) => {
      if (given(c[key]) || !given(v)) return false;
      c[key] = v;
      return true;
    };
    let shown = false;
    if (op === "~" && col.type === "str") shown = put("text", value);
    else if (op === "=" && isChoice(col) && !/(?<!\\),/.test(value)) shown = put("choice", choiceValue(col, value.replace(/\\,/g, ",")));
    else if (isNumber(col) && op !== "~" && op !== "=" && Number.isFinite(Number(value))) shown = put(op === ">=" ? "min" : "max", value);
    else if (isDate(col) && (op === ">=" || op === "<=") && DAY.test(value)) shown = put(op === ">=" ? "from" : "to", value);
    if (!shown) state.extra.push(w);
  }
  return state;
}

function choiceValue(column, value) {
  if (column.type !== "bool") return value;
  const low = value.trim().toLowerCase();
  if (["true", "1", "yes", "y", "是", "t"].includes(low)) return "true";
  if (["false", "0", "no", "n", "否", "f"].includes(low)) return "false";
  return value;
}

// ---- dates in the workspace's time zone ----

/** Today's date (YYYY-MM-DD) in time zone `tz` (the workspace's). */
export function today(tz) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz || undefined, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

/** The date `days` days before `day` (YYYY-MM-DD). */
export function daysBefore(day, days) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}

/** Set a quick date range on `column` of `state`: the last N days (from N-1 days ago on). */
export function applyRange(state, column, range, tz) {
  state.range = range;
  if (range === "custom") return;
  const c = (state.conds[column] = state.conds[column] || {});
  c.to = "";
  c.from = range === "all" ? "" : daysBefore(today(tz), Number(range) - 1);
}

// ---- the filter row ----

/** The options of a coded column's list: all, then each value by its title (and its count). */
export function fillChoices(select, layer, column, counts = null) {
  const current = select.value;
  const values = column.type === "bool" ? ["true", "false"] : column.choices;
  const label = (v) => (column.type === "bool" ? t(v === "true" ? "yes" : "no") : choiceLabel(layer, column.name, v));
  const options = [h("option", { value: "" }, t("table.filter.all"))];
  for (const v of values) {
    const n = counts ? counts.get(v) || 0 : null;
    options.push(h("option", { value: v }, n === null ? label(v) : `${label(v)} (${formatNumber(n)})`));
  }
  select.replaceChildren(...options);
  select.value = current;
}

/**
 * One cell of the filter row for `column`. ctx: {layer, state, changed(), values(column) →
 * Promise<[{value, count}]>} — `changed` once a condition changed, `values` for the lists.
 */
export function filterCell(ctx, column) {
  const th = h("th", { class: "tbl-filter", scope: "col" });
  if (!column.filterable) {
    th.title = t("table.not_filterable");
    return th;
  }
  const { layer, state } = ctx;
  const c = () => (state.conds[column.name] = state.conds[column.name] || {});
  const label = (text) => t("table.filter.label", { column: text });
  const set = (key, value) => {
    if ((c()[key] || "") === value) return;
    c()[key] = value;
    if (layer === "incidents" && column.name === "occurred_at") state.range = "custom";
    ctx.changed();
  };
  if (isChoice(column)) {
    const select = h("select", { dataset: { filter: column.name }, "aria-label": label(column.title) });
    fillChoices(select, layer, column);
    select.value = c().choice || "";
    let counted = false;
    // counts of each value among the rows the other conditions keep, asked for when the list
    // is opened (not with every page)
    const count = () => {
      if (counted) return;
      counted = true;
      ctx.values(column).then(
        (values) => fillChoices(select, layer, column, new Map(values.map((v) => [String(v.value), v.count]))),
        () => {
          counted = false;
        },
      );
    };
    select.addEventListener("focus", count);
    select.addEventListener("pointerdown", count);
    select.addEventListener("change", () => set("choice", select.value));
    th.append(select);
  } else if (column.type === "str") {
    const list = h("datalist", { id: `tbl-values-${column.name}` });
    const input = h("input", { type: "search", list: list.id, dataset: { filter: column.name }, "aria-label": label(column.title), placeholder: t("table.filter.contains"), autocomplete: "off" });
    input.value = c().text || "";
    let listed = false;
    input.addEventListener("focus", () => {
      if (listed) return;
      listed = true;
      ctx.values(column, 50).then(
        (values) => list.replaceChildren(...values.filter((v) => v.value !== null).map((v) => h("option", { value: String(v.value) }))),
        () => {
          listed = false;
        },
      );
    });
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => set("text", input.value.trim()), 400);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        clearTimeout(timer);
        set("text", input.value.trim());
      }
    });
    th.append(input, list);
  } else {
    const [lo, hi, type] = isNumber(column) ? ["min", "max", "number"] : ["from", "to", "date"];
    const box = h("div", { class: "tbl-range" });
    for (const key of [lo, hi]) {
      const input = h("input", { type, dataset: { [`filter${key[0].toUpperCase()}${key.slice(1)}`]: column.name }, "aria-label": t(`table.filter.${key}`, { column: column.title }), placeholder: type === "number" ? t(`table.filter.${key}.short`) : null, step: type === "number" ? "any" : null });
      input.value = c()[key] || "";
      input.title = t(`table.filter.${key}`, { column: column.title });
      input.addEventListener("change", () => {
        if (type === "number" && input.value !== "" && !Number.isFinite(Number(input.value))) return;
        set(key, input.value);
      });
      box.append(input);
    }
    th.append(box);
  }
  return th;
}
