// Turning attribute values into text for people: localized booleans, choices, units, dates.

import { formatNumber, getLang, has, hasOwn, pick, t } from "./i18n.js";

/** Localized label of a choice value, e.g. facilities.kind "police_post" → "警务站". */
export function choiceLabel(layer, column, value) {
  const specific = `choice.${layer}.${column}.${value}`;
  if (has(specific)) return t(specific);
  const generic = `choice.${column}.${value}`;
  if (has(generic)) return t(generic);
  return String(value);
}

function unitLabel(unit) {
  return unit ? t(`unit.${unit}`, null, unit) : "";
}

function withUnit(text, unit) {
  const u = unitLabel(unit);
  if (!u) return text;
  if (u === "°") return `${text}°`;
  return `${text} ${u}`;
}

const dateTimeFormats = new Map();
let timeZone; // the workspace's (its people's) time zone, not the browser's
let maskedValue = "***";

/** Use the workspace's time zone and masked-value marker (from /api/workspace). */
export function configureFormats(ws) {
  timeZone = ws.timezone || undefined;
  maskedValue = ws.masked_value || maskedValue;
  dateTimeFormats.clear();
}

function formatDateTime(value) {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const lang = getLang();
  if (!dateTimeFormats.has(lang)) {
    dateTimeFormats.set(
      lang,
      new Intl.DateTimeFormat(lang, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false, timeZone }),
    );
  }
  return dateTimeFormats.get(lang).format(d);
}

function floatDigits(unit, value) {
  if (unit === "m²") return 0;
  if (unit === "degrees") return 0;
  return Math.abs(value) >= 100 ? 0 : 1;
}

/** A column's title: the UI's own short title when it has one, else the schema's. */
export function columnTitle(layer, column) {
  for (const key of [`column.${layer}.${column.name}`, `column.${column.name}`]) {
    if (hasOwn(key)) return t(key);
  }
  return pick(column.title, column.name);
}

/**
 * Text for one value of a column (a schema column from /api/workspace). Values that are not of
 * the column's type — the server's masks for personal data, e.g. "***" — are shown as they come.
 */
export function formatValue(layer, column, value) {
  if (value === null || value === undefined || value === "") return null;
  if (value === maskedValue) return t("value.masked");
  switch (column.type) {
    case "bool":
      if (value === true || value === 1) return t("yes");
      if (value === false || value === 0) return t("no");
      return String(value);
    case "int":
      // Ids and codes (no unit) are shown as they are, without digit grouping.
      if (typeof value !== "number" || !column.unit) return String(value);
      return withUnit(formatNumber(value, 0), column.unit);
    case "float":
      return typeof value === "number" ? withUnit(formatNumber(value, floatDigits(column.unit, value)), column.unit) : String(value);
    case "datetime":
      return formatDateTime(value);
    default:
      if (column.choices || ["highway", "building", "target", "source"].includes(column.name)) {
        return choiceLabel(layer, column.name, value);
      }
      return String(value);
  }
}
