// A building's households (楼栋户室) in the detail card (#detail-card): opened from a building's
// popup, or a household's (its building), through GET api/buildings/<fid>/register.
//
// Readers who see households (admin; a grid worker in a building of their grids) get units →
// floors → rooms with counts, each room's household and, on a click, its people. The pages of
// households are fetched one after another and added as they come (in room order, so each
// lands in its unit and floor), so a tower of hundreds of households lists them all without
// holding up the page; units after the first start folded. Everyone else gets the building's
// totals and a sentence saying why.
//
// Hooks for tests: #detail-card[data-tool="building"][data-building-id][data-read=full|own|totals]
// [data-listed=<rooms drawn>][data-total=<households>][data-complete="1" once every page is in];
// .bld-room[data-household-id] rows, .bld-unit[data-unit], .bld-floor[data-floor].

import { apiFetch, describeError, getJSON } from "./api.js";
import { h } from "./dom.js";
import { formatNumber } from "./i18n.js";
import { columnTitle } from "./format.js";

const ACTION_ID = "building-register";
const CARE = ["hardship", "elderly_alone", "disabled", "migrant", "veteran_party_member", "assisted", "rented"];

function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

function age(birth) {
  if (!birth) return null;
  const b = new Date(`${birth}T00:00:00`);
  if (Number.isNaN(b.getTime())) return null;
  const now = new Date();
  let years = now.getFullYear() - b.getFullYear();
  if (now.getMonth() < b.getMonth() || (now.getMonth() === b.getMonth() && now.getDate() < b.getDate())) years -= 1;
  return years;
}

class BuildingCard {
  constructor(app) {
    this.app = app;
    this.t = app.t;
    this.card = app.slots.detail;
    this.request = 0;
    this.current = null;
    app.on("language", () => this.current && this.open(this.current.fid, { refresh: true }));
    this.card.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.card.dataset.tool === "building") {
        e.stopPropagation();
        this.close();
      }
    });
  }

  column(layer, name) {
    const meta = (this.app.ws.layers || []).find((l) => l.name === layer);
    const col = meta?.columns?.find((c) => c.name === name);
    return col ? columnTitle(layer, col) : name;
  }

  count(n, key) {
    return n === null || n === undefined ? null : this.t(key, { n: formatNumber(n) });
  }

  close() {
    this.request += 1;
    this.current = null;
    this.card.hidden = true;
    this.card.replaceChildren();
    delete this.card.dataset.tool;
    this.app.emit("detail-closed", { tool: "building" });
  }

  /** Open building `fid`'s register in the card (a newer call cancels an older one's pages). */
  async open(fid, { refresh = false } = {}) {
    const ticket = ++this.request;
    const card = this.card;
    const keepScroll = refresh ? this.body?.scrollTop : 0;
    card.hidden = false;
    // left of the map's buttons at the top right (the table's is wider than the zoom's)
    const controls = document.querySelector(".leaflet-top.leaflet-right");
    card.style.right = `${(controls?.offsetWidth || 44) + 12}px`;
    card.dataset.tool = "building";
    card.dataset.buildingId = String(fid);
    card.dataset.complete = "0";
    card.dataset.listed = "0";
    card.setAttribute("role", "dialog");
    card.setAttribute("aria-label", this.t("building.title"));
    const closer = h("button", { type: "button", class: "bld-close", id: "building-close", "aria-label": this.t("building.close"), title: this.t("building.close"), text: "×" });
    closer.addEventListener("click", () => this.close());
    this.heading = h("div", { class: "bld-title", text: this.t("building.loading") });
    this.sub = h("div", { class: "bld-sub" });
    this.summary = h("div", { class: "bld-summary" });
    this.body = h("div", { class: "bld-body" });
    this.status = h("div", { class: "bld-status", role: "status" });
    const header = h("header", { class: "bld-header" }, h("div", { class: "bld-head-text" }, h("div", { class: "bld-kicker", text: this.t("building.title") }), this.heading, this.sub), closer);
    card.replaceChildren(header, this.summary, this.body, this.status);
    this.current = { fid };
    let doc;
    try {
      doc = await getJSON(`api/buildings/${encodeURIComponent(fid)}/register`);
    } catch (err) {
      if (ticket !== this.request) return;
      this.heading.textContent = this.t("building.title");
      this.status.textContent = describeError(err);
      this.status.classList.add("error");
      card.dataset.read = "error";
      return;
    }
    if (ticket !== this.request) return;
    this.renderHead(doc);
    if (doc.read === "totals") {
      card.dataset.read = "totals";
      card.dataset.total = String(doc.totals.households ?? "");
      card.dataset.complete = "1";
      this.body.append(h("p", { class: "bld-note", text: this.t(`building.reason.${doc.reason}`) }));
      return;
    }
    card.dataset.read = doc.read;
    card.dataset.total = String(doc.numberMatched);
    this.renderTree(doc);
    this.listed = 0;
    let page = doc;
    for (;;) {
      this.addRooms(page.households);
      card.dataset.listed = String(this.listed);
      if (page.next === null || page.next === undefined) break;
      this.status.textContent = this.t("building.more", { n: formatNumber(this.listed), total: formatNumber(doc.numberMatched) });
      await nextFrame();
      try {
        const resp = await apiFetch(`api/buildings/${encodeURIComponent(fid)}/register?offset=${page.next}`);
        page = await resp.json();
      } catch (err) {
        if (ticket !== this.request) return;
        this.status.textContent = describeError(err);
        this.status.classList.add("error");
        return;
      }
      if (ticket !== this.request) return;
    }
    this.status.textContent = "";
    if (refresh && keepScroll) this.body.scrollTop = keepScroll;
    card.dataset.complete = "1";
  }

  renderHead(doc) {
    const b = doc.building || {};
    this.heading.textContent = b.name || b.address || `#${b.id}`;
    const parts = [b.name && b.address ? b.address : null, b.grid_code, b.levels ? this.t("building.levels", { n: b.levels }) : null];
    this.sub.textContent = parts.filter(Boolean).join(" · ");
    const tot = doc.totals || {};
    const items = [
      this.count(tot.households, "building.households"),
      this.count(tot.residents, "building.residents"),
      tot.units ? this.count(tot.units, "building.units") : null,
      tot.floors ? this.count(tot.floors, "building.floors") : null,
    ].filter(Boolean);
    this.summary.replaceChildren(...items.map((text) => h("span", { class: "bld-total", text })));
  }

  unitName(unit) {
    return unit === null || unit === undefined ? this.t("building.unit.unknown") : this.t("building.unit", { u: unit });
  }

  floorName(floor) {
    if (floor === null || floor === undefined) return this.t("building.floor.unknown");
    return floor < 0 ? this.t("building.floor.below", { n: -floor }) : this.t("building.floor", { n: floor });
  }

  renderTree(doc) {
    this.floors = new Map(); // "unit|floor" -> <ul>
    const frag = document.createDocumentFragment();
    doc.units.forEach((unit, i) => {
      const counts = [this.count(unit.households, "building.households"), this.count(unit.residents, "building.residents")].filter(Boolean).join(" · ");
      const details = h("details", { class: "bld-unit", dataset: { unit: unit.unit ?? "" } });
      if (i === 0) details.open = true;
      details.append(h("summary", { class: "bld-unit-head" }, h("span", { class: "bld-unit-name", text: this.unitName(unit.unit) }), h("span", { class: "bld-count", text: counts })));
      for (const floor of unit.floors) {
        const list = h("ul", { class: "bld-rooms" });
        const fc = [this.count(floor.households, "building.households"), this.count(floor.residents, "building.residents")].filter(Boolean).join(" · ");
        details.append(
          h(
            "section",
            { class: "bld-floor", dataset: { floor: floor.floor ?? "" } },
            h("div", { class: "bld-floor-head" }, h("span", { text: this.floorName(floor.floor) }), h("span", { class: "bld-count", text: fc })),
            list,
          ),
        );
        this.floors.set(`${unit.unit ?? ""}|${floor.floor ?? ""}`, list);
      }
      frag.append(details);
    });
    if (!doc.units.length) frag.append(h("p", { class: "bld-note", text: this.t("building.empty") }));
    this.body.replaceChildren(frag);
  }

  addRooms(households) {
    const byList = new Map();
    for (const hh of households) {
      const list = this.floors.get(`${hh.unit ?? ""}|${hh.floor ?? ""}`);
      if (!list) continue;
      if (!byList.has(list)) byList.set(list, document.createDocumentFragment());
      byList.get(list).append(this.room(hh));
      this.listed += 1;
    }
    for (const [list, frag] of byList) list.append(frag);
  }

  room(hh) {
    const flags = CARE.filter((c) => hh[c] === true).map((c) => h("span", { class: `bld-flag bld-flag-${c}`, text: this.column("households", c) }));
    const members = hh.members !== null && hh.members !== undefined ? this.t("building.members", { n: hh.members }) : null;
    const head = h(
      "button",
      { type: "button", class: "bld-room-head", "aria-expanded": "false" },
      h("span", { class: "bld-room-no", text: hh.room || "—" }),
      h("span", { class: "bld-room-name", text: hh.head_name || hh.household_id || "" }),
      members ? h("span", { class: "bld-room-members", text: members }) : null,
      ...flags,
    );
    const li = h("li", { class: "bld-room", dataset: { householdId: hh.household_id ?? "", id: String(hh.id) } }, head);
    if (Array.isArray(hh.people)) {
      let list = null;
      head.addEventListener("click", () => {
        if (!list) {
          list = this.people(hh);
          li.append(list);
        } else {
          list.hidden = !list.hidden;
        }
        head.setAttribute("aria-expanded", list.hidden ? "false" : "true");
      });
    } else {
      head.disabled = true;
    }
    return li;
  }

  people(hh) {
    const rows = hh.people.map((p) => {
      const years = age(p.birth_date);
      const gender = p.gender ? this.t(`choice.people.gender.${p.gender}`, null, p.gender) : null;
      const bits = [p.relation, gender, years !== null ? this.t("building.age", { n: years }) : null, p.phone].filter(Boolean);
      const flags = CARE.filter((c) => c !== "rented" && p[c] === true).map((c) => h("span", { class: `bld-flag bld-flag-${c}`, text: this.column("people", c) }));
      return h("li", { class: "bld-person", dataset: { personId: p.person_id ?? "" } }, h("span", { class: "bld-person-name", text: p.name || "" }), h("span", { class: "bld-person-bits", text: bits.join(" · ") }), ...flags);
    });
    const extra = [hh.household_id, hh.phone ? `${this.column("households", "phone")} ${hh.phone}` : null].filter(Boolean).join(" · ");
    return h("ul", { class: "bld-people" }, extra ? h("li", { class: "bld-household-line", text: extra }) : null, ...rows);
  }
}

/** The id of the building whose OSM id is `osmId`: from the drawn buildings, else the API. */
async function buildingOf(osmId, latlng) {
  const group = window.gridmap?.layers?.buildings;
  let found = null;
  group?.eachLayer((l) => {
    if (!found && l.feature && Number(l.feature.properties?.osm_id) === Number(osmId)) found = l.feature.id;
  });
  if (found !== null || !latlng) return found;
  const d = 0.0005; // about 50 m around the household's point
  const bbox = [latlng.lng - d, latlng.lat - d, latlng.lng + d, latlng.lat + d].map((v) => v.toFixed(6)).join(",");
  const fc = await getJSON(`api/layers/buildings?bbox=${bbox}`);
  const hit = (fc.features || []).find((f) => Number(f.properties?.osm_id) === Number(osmId));
  return hit ? hit.id : null;
}

function householdPlace(feature) {
  const c = feature?.geometry?.coordinates;
  return Array.isArray(c) && c.length >= 2 ? { lng: c[0], lat: c[1] } : null;
}

export function install(app) {
  if (!app.slots.detail) return;
  const card = new BuildingCard(app);
  app.buildingCard = card;
  const label = () => app.t("building.open");
  const openHousehold = async (feature) => {
    const fid = await buildingOf(feature.properties?.building_osm_id, householdPlace(feature));
    if (fid !== null) card.open(fid);
  };
  app.addPopupAction("buildings", { id: ACTION_ID, label, run: (feature) => card.open(feature.id) });
  app.addPopupAction("households", {
    id: ACTION_ID,
    label,
    when: (feature) => feature?.properties?.building_osm_id !== null && feature?.properties?.building_osm_id !== undefined,
    run: openHousehold,
  });
  bridgePopups(app, label);
}

/**
 * Until the popup renderer draws the workbench's popup actions itself, add ours to the popups
 * of buildings and households; once it does (a button with our label is there), do nothing.
 * The button goes into the popup's content before Leaflet lays the popup out and pans the map
 * to it: a popup whose content is a function (a layer's bound popup) gets that function
 * wrapped, once; a popup whose content is an element gets the button and is laid out again.
 */
function bridgePopups(app, label) {
  const decorate = (root, source) => {
    if (!(root instanceof HTMLElement)) return false;
    const box = root.matches(".gm-popup[data-layer]") ? root : root.querySelector(".gm-popup[data-layer]");
    if (!box || box.querySelector(`[data-action="${ACTION_ID}"]`)) return false;
    const layer = box.dataset.layer;
    if (layer !== "buildings" && layer !== "households") return false;
    const text = label();
    if ([...box.querySelectorAll("button")].some((b) => b.textContent.trim() === text)) return false;
    const feature = source?.feature || findFeature(layer, box.dataset.featureId);
    if (!feature) return false;
    const actions = app.popupActions(layer, feature).filter((a) => a.id === ACTION_ID);
    if (!actions.length) return false;
    const button = h("button", { type: "button", class: "gm-popup-action bld-open", dataset: { action: ACTION_ID }, text });
    button.addEventListener("click", () => actions[0].run(feature));
    box.append(h("div", { class: "gm-popup-actions bld-actions" }, button));
    return true;
  };
  app.map.on("popupopen", (e) => {
    const popup = e.popup;
    const content = popup.getContent();
    if (typeof content === "function") {
      if (content.gmBuildingBridge) return;
      const wrapped = (layer) => {
        const root = content(layer);
        decorate(root, layer);
        return root;
      };
      wrapped.gmBuildingBridge = true;
      popup.setContent(wrapped); // lays the popup out again, and pans to it
    } else if (decorate(content, popup._source)) {
      popup.update();
    }
  });
}

function findFeature(layer, id) {
  let found = null;
  window.gridmap?.layers?.[layer]?.eachLayer((l) => {
    if (!found && l.feature && String(l.feature.id) === String(id)) found = l.feature;
  });
  return found;
}
