// UI strings and the current language. Both dictionaries are loaded up front so that switching
// language relabels the page at once, without a round trip to the server.

export const LANGS = ["zh-CN", "en"];
const STORAGE_KEY = "gridmap.lang";

let dicts = {};
let current = "zh-CN";
const listeners = new Set();

/** Fetch the dictionaries: `urls` maps a language to the (hash-busted) URL of its JSON file. */
export async function loadDictionaries(urls, tools = []) {
  const fetchJson = async (url) => {
    const resp = await fetch(url);
    if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
    return resp.json();
  };
  const [pairs, extra] = await Promise.all([
    Promise.all(Object.entries(urls).map(async ([lang, url]) => [lang, await fetchJson(url)])),
    Promise.all(tools.map(fetchJson)),
  ]);
  dicts = Object.fromEntries(pairs);
  // A tool's own strings (web/static/i18n/tools/<tool>.json: {"zh-CN": {…}, "en": {…}}).
  for (const more of extra) {
    for (const [lang, messages] of Object.entries(more)) dicts[lang] = { ...(dicts[lang] || {}), ...messages };
  }
}

/**
 * Add the titles of coded values that the server's schema carries (`choice_titles` of each
 * column in /api/workspace) as `choice.<layer>.<column>.<code>` messages in both languages.
 */
export function addChoiceTitles(layers) {
  for (const layer of layers) {
    for (const column of layer.columns || []) {
      for (const [code, titles] of Object.entries(column.choice_titles || {})) {
        for (const lang of LANGS) {
          dicts[lang] = dicts[lang] || {};
          dicts[lang][`choice.${layer.name}.${column.name}.${code}`] = titles[lang] ?? titles.en;
        }
      }
    }
  }
}

export function normalizeLang(value) {
  if (!value) return null;
  const v = String(value).toLowerCase();
  if (v.startsWith("zh")) return "zh-CN";
  if (v.startsWith("en")) return "en";
  return null;
}

/** The language remembered from an earlier visit, if any. */
export function storedLang() {
  try {
    return normalizeLang(window.localStorage.getItem(STORAGE_KEY));
  } catch {
    return null; // storage disabled by policy: just don't remember
  }
}

export function getLang() {
  return current;
}

/** Switch language, tell every listener, and (when `remember`) keep the choice for next time. */
export function setLang(lang, { remember = true } = {}) {
  current = normalizeLang(lang) || "zh-CN";
  document.documentElement.lang = current;
  document.body.dataset.lang = current;
  if (remember) {
    try {
      window.localStorage.setItem(STORAGE_KEY, current);
    } catch {
      /* storage disabled: the choice lasts for this page only */
    }
  }
  for (const fn of listeners) fn(current);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Has the current (or English) dictionary got `key`? */
export function has(key) {
  return key in (dicts[current] || {}) || key in (dicts.en || {});
}

/** Has the current language's own dictionary got `key` (no English fallback)? */
export function hasOwn(key) {
  return key in (dicts[current] || {});
}

/** Translate `key`, filling `{name}` placeholders from `vars`; unknown keys give `fallback`. */
export function t(key, vars = null, fallback = undefined) {
  let s = dicts[current]?.[key] ?? dicts.en?.[key];
  if (s === undefined) s = fallback !== undefined ? fallback : key;
  if (vars) s = String(s).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

/**
 * Translate `key` for a count `n` (also given to the text as `{n}` unless `vars` has one):
 * `key.one` when `n` is 1 and there is that form (English "1 street block"), else `key`.
 */
export function tn(key, n, vars = null) {
  const one = `${key}.one`;
  return t(n === 1 && has(one) ? one : key, { n, ...(vars || {}) });
}

/** Pick the current language's text from a `{"en": ..., "zh-CN": ...}` object from the server. */
export function pick(texts, fallback = "") {
  if (texts == null) return fallback;
  if (typeof texts === "string") return texts;
  return texts[current] ?? texts.en ?? Object.values(texts)[0] ?? fallback;
}

const numberFormats = new Map();

/** Format a number for the current language (grouping, at most `digits` decimals). */
export function formatNumber(n, digits = 0) {
  const key = `${current}|${digits}`;
  if (!numberFormats.has(key)) {
    numberFormats.set(key, new Intl.NumberFormat(current, { maximumFractionDigits: digits }));
  }
  return numberFormats.get(key).format(n);
}
