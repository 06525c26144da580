// The search box at the top of the panel (#search-slot): grid codes and names, communities,
// addresses and buildings, households (for readers who see them), cameras, facilities and their
// kinds, streets — through GET api/search, which decides what this reader may find.
//
// A combobox with a listbox of results grouped by layer (WAI-ARIA combobox pattern): typing
// searches after a short pause (a newer query cancels an older one), ↑/↓ move through the
// results, Enter opens the active one (or the first), Esc closes the list and then clears the
// box, "/" anywhere on the page puts the cursor in the box. Choosing a result calls
// app.focus() (fits the map, draws the layer, opens and highlights the feature) and, for a
// grid, app.select("grids", …).
//
// Hooks for tests: #search-input, #search-results [role=option][data-layer][data-id],
// #search-slot[data-state=idle|busy|done|empty|error], body[data-search-focused="layer:id"].

import { apiFetch, describeError } from "./api.js";
import { h } from "./dom.js";
import { getLang, pick } from "./i18n.js";
import { layerSwatch } from "./layers.js";
import { swatch } from "./styles.js";

const DEBOUNCE_MS = 180;
const LIMIT = 6;

const SEARCH_ICON =
  '<svg width="15" height="15" viewBox="0 0 16 16" aria-hidden="true"><circle cx="7" cy="7" r="4.8" fill="none" stroke="currentColor" stroke-width="1.8"/><path d="M10.6 10.6L14 14" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>';

class SearchBox {
  constructor(app) {
    this.app = app;
    this.t = app.t;
    this.slot = app.slots.search;
    this.options = [];
    this.active = -1;
    this.timer = null;
    this.controller = null;
    this.lastQuery = "";
    this.lastResult = null;
    this.build();
  }

  build() {
    this.icon = h("span", { class: "gm-search-icon" });
    this.icon.innerHTML = SEARCH_ICON; // a constant, no data
    this.input = h("input", {
      id: "search-input",
      class: "gm-search-input",
      type: "search",
      role: "combobox",
      autocomplete: "off",
      spellcheck: "false",
      "aria-autocomplete": "list",
      "aria-expanded": "false",
      "aria-controls": "search-results",
      maxlength: "100",
    });
    this.clearButton = h("button", { type: "button", class: "gm-search-clear", id: "search-clear", hidden: true, text: "×" });
    this.list = h("div", { id: "search-results", class: "gm-search-results", role: "listbox", hidden: true });
    this.live = h("div", { class: "gm-search-live", role: "status", "aria-live": "polite" });
    const box = h("div", { class: "gm-search-box" }, this.icon, this.input, this.clearButton);
    this.root = h("div", { class: "gm-search", role: "search" }, box, this.list, this.live);
    this.slot.replaceChildren(this.root);
    this.slot.dataset.state = "idle";

    this.input.addEventListener("input", () => this.schedule());
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.input.addEventListener("focus", () => {
      if (this.options.length || this.lastResult) this.open();
    });
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 120));
    this.clearButton.addEventListener("click", () => {
      this.clear();
      this.input.focus();
    });
    // a click on an option must not take the focus away from the box before it counts
    this.list.addEventListener("mousedown", (e) => e.preventDefault());
    this.list.addEventListener("click", (e) => {
      const option = e.target.closest('[role="option"]');
      if (option) this.choose(Number(option.dataset.index));
    });
    document.addEventListener("keydown", (e) => {
      const typing = e.target instanceof HTMLElement && (e.target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName));
      if (e.key === "/" && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        this.input.focus();
      }
    });
    this.app.on("language", () => this.relabel());
    this.relabel();
  }

  relabel() {
    this.input.placeholder = this.t("search.placeholder");
    this.input.setAttribute("aria-label", this.t("search.aria"));
    this.clearButton.setAttribute("aria-label", this.t("search.clear"));
    this.clearButton.title = this.t("search.clear");
    this.list.setAttribute("aria-label", this.t("search.results"));
    if (this.lastQuery) this.run(this.lastQuery, { keepActive: true }); // labels are per language
  }

  setState(state) {
    this.slot.dataset.state = state;
    this.root.setAttribute("aria-busy", state === "busy" ? "true" : "false");
  }

  schedule() {
    clearTimeout(this.timer);
    const q = this.input.value;
    this.clearButton.hidden = !q;
    if (!q.trim()) {
      this.abort();
      this.lastQuery = "";
      this.lastResult = null;
      this.render(null);
      this.close();
      this.setState("idle");
      return;
    }
    this.timer = setTimeout(() => this.run(q), DEBOUNCE_MS);
  }

  abort() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  async run(q, { keepActive = false } = {}) {
    this.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.setState("busy");
    const params = new URLSearchParams({ q, limit: String(LIMIT), lang: getLang() });
    try {
      const resp = await apiFetch(`api/search?${params}`, { signal: controller.signal });
      const result = await resp.json();
      if (controller.signal.aborted) return;
      this.lastQuery = q;
      this.lastResult = result;
      const before = this.active;
      this.render(result);
      if (keepActive && before >= 0 && before < this.options.length) this.setActive(before);
      this.setState(result.hits.length ? "done" : "empty");
      if (document.activeElement === this.input) this.open();
    } catch (err) {
      if (err?.name === "AbortError" || controller.signal.aborted) return;
      this.lastQuery = "";
      this.renderMessage(describeError(err), "gm-search-error");
      this.setState("error");
      this.open();
    } finally {
      if (this.controller === controller) this.controller = null;
    }
  }

  layerMeta(name) {
    return (this.app.ws.layers || []).find((l) => l.name === name) || { name, geometry: null };
  }

  render(result) {
    this.options = [];
    this.active = -1;
    this.input.removeAttribute("aria-activedescendant");
    this.list.replaceChildren();
    if (!result) return;
    if (!result.hits.length) {
      this.renderMessage(this.t("search.none", { q: result.q }), "gm-search-empty");
      return;
    }
    const byLayer = new Map(result.groups.map((g) => [g.layer, g]));
    let n = 0;
    for (const group of result.groups) {
      const meta = this.layerMeta(group.layer);
      const headId = `search-group-${group.layer}`;
      const head = h(
        "div",
        { class: "gm-search-group-title", id: headId, role: "presentation" },
        h("span", { class: "gm-search-swatch" }, swatch(layerSwatch(group.layer, meta.geometry))),
        h("span", { class: "gm-search-group-name", text: pick(group.title, group.layer) }),
        h("span", { class: "gm-search-count", text: String(group.matched) }),
      );
      const box = h("div", { class: "gm-search-group", role: "group", "aria-labelledby": headId, dataset: { layer: group.layer } }, head);
      for (const hit of result.hits.filter((x) => x.layer === group.layer)) {
        const option = h(
          "div",
          { class: "gm-search-option", role: "option", id: `search-option-${n}`, "aria-selected": "false", dataset: { index: String(n), layer: hit.layer, id: String(hit.id) } },
          h("span", { class: "gm-search-label", text: hit.label }),
          hit.detail ? h("span", { class: "gm-search-detail", text: hit.detail }) : null,
        );
        this.options.push({ el: option, hit });
        box.append(option);
        n += 1;
      }
      const more = byLayer.get(group.layer).matched - group.returned;
      if (more > 0) box.append(h("div", { class: "gm-search-more", role: "presentation", text: this.t("search.more", { n: more }) }));
      this.list.append(box);
    }
    const total = result.groups.reduce((s, g) => s + g.matched, 0);
    this.live.textContent = this.t("search.found", { n: total });
  }

  renderMessage(text, cls) {
    this.options = [];
    this.active = -1;
    this.list.replaceChildren(h("div", { class: cls, role: "presentation", text }));
    this.live.textContent = text;
  }

  open() {
    if (!this.list.childElementCount) return;
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close() {
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
  }

  clear() {
    clearTimeout(this.timer);
    this.abort();
    this.input.value = "";
    this.clearButton.hidden = true;
    this.lastQuery = "";
    this.lastResult = null;
    this.render(null);
    this.close();
    this.setState("idle");
  }

  setActive(i) {
    if (!this.options.length) return;
    const n = this.options.length;
    this.active = ((i % n) + n) % n;
    this.options.forEach((o, j) => o.el.setAttribute("aria-selected", j === this.active ? "true" : "false"));
    const el = this.options[this.active].el;
    this.input.setAttribute("aria-activedescendant", el.id);
    el.scrollIntoView({ block: "nearest" });
  }

  onKey(e) {
    switch (e.key) {
      case "ArrowDown":
        e.preventDefault();
        this.open();
        this.setActive(this.active + 1);
        break;
      case "ArrowUp":
        e.preventDefault();
        this.open();
        this.setActive(this.active < 0 ? -1 : this.active - 1);
        break;
      case "Enter":
        e.preventDefault();
        if (this.timer && this.input.value !== this.lastQuery) {
          // typed faster than the pause: search now, then take the first result
          clearTimeout(this.timer);
          this.run(this.input.value).then(() => this.options.length && this.choose(0));
        } else if (this.options.length) {
          this.choose(this.active >= 0 ? this.active : 0);
        }
        break;
      case "Escape":
        if (!this.list.hidden) {
          e.preventDefault();
          this.close();
        } else if (this.input.value) {
          e.preventDefault();
          this.clear();
        }
        break;
      default:
        break;
    }
  }

  async choose(index) {
    const option = this.options[index];
    if (!option) return;
    const { hit } = option;
    this.setActive(index);
    this.close();
    document.body.dataset.searchFocused = "";
    let shown = await this.app.focus({ layer: hit.layer, id: hit.id, bbox: hit.bbox, lon: hit.lon, lat: hit.lat });
    if (shown && !popupOf(hit)) shown = openPopup(hit);
    if (hit.layer === "grids") this.app.select("grids", [hit.id], { grids: hit.key ? [hit.key] : [], source: "search" });
    if (hit.layer === "streets") {
      // a street's hit stands for all its edges: select every drawn edge of that name
      const ids = [];
      window.gridmap?.layers?.streets?.eachLayer((l) => {
        if (l.feature && l.feature.properties?.name === hit.label) ids.push(l.feature.id);
      });
      if (ids.length > 1) this.app.select("streets", ids, { source: "search" });
    }
    document.body.dataset.searchFocused = `${hit.layer}:${hit.id}:${shown ? "shown" : "placed"}`;
    this.app.emit("search-chosen", { hit, shown });
  }
}

/** The open popup of the hit's feature, if any (not one fading out after it closed). */
function popupOf(hit) {
  const all = document.querySelectorAll(`.leaflet-popup .gm-popup[data-layer="${hit.layer}"][data-feature-id="${hit.id}"]`);
  return [...all].find((p) => p.closest(".leaflet-popup").style.opacity !== "0") || null;
}

/**
 * Open the hit's popup as a click on it would, when app.focus() drew and fitted the feature but
 * its popup did not open (a click fired on a feature reaches its group's popup only when it
 * propagates); where no popup is bound to the group, nothing opens.
 */
function openPopup(hit) {
  const { map, layers } = window.gridmap || {};
  let found = null;
  layers?.[hit.layer]?.eachLayer((l) => {
    if (!found && l.feature && String(l.feature.id) === String(hit.id)) found = l;
  });
  if (!found || !map) return Boolean(found);
  const at = found.getLatLng ? found.getLatLng() : found.getCenter();
  found.fire("click", { latlng: at, layerPoint: map.latLngToLayerPoint(at), containerPoint: map.latLngToContainerPoint(at) }, true);
  return true;
}

export function install(app) {
  if (!app.slots.search) return;
  app.searchBox = new SearchBox(app);
}
