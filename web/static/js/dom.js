// Making elements: one helper for every page's modules (the map page's tools and admin.js).

/**
 * A new element `tag` with `attrs` and `children`.
 *
 * attrs: `class` (the class name), `text` (the text content), `dataset` (an object of data-*
 * values), any other attribute by its name; a value of `true` sets an empty attribute (hidden,
 * disabled), `false`, `null` or `undefined` leaves the attribute out. children: nodes or
 * strings, appended after the text; `false`, `null` and `undefined` are left out, so that
 * `cond ? h(...) : null` can stand in the list.
 * @param {string} tag
 * @param {object} [attrs]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  e.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return e;
}

/** The value stored under `key` in the browser (localStorage), or null when storage is off. */
export function stored(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Store `value` under `key` in the browser (localStorage); nothing when storage is off. */
export function store(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* storage disabled */
  }
}

/** Hand `blob` to the browser's downloads as `filename` (a link clicked once, then let go). */
export function saveFile(blob, filename) {
  const href = URL.createObjectURL(blob);
  const a = h("a", { href, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}
