// What the map loads, and when: each layer by the window of the current view, not whole.
//
// A layer of at most WHOLE_MAX features (the community, grids, streets, cameras… of a district)
// loads whole, once. A bigger one loads by window: the view padded by PAD on each side and
// snapped outward to the clusters' 64-pixel cells, so that small pans stay inside it and
// windows repeat. It is fetched again when the view leaves the loaded window, or when the workbench's
// "filter" event changes the layer's conditions (the map then draws only what passes). Point
// layers (households, visits) first ask /api/layers/<name>/clusters: when the window holds more
// than MAX_POINTS points (and so does the view itself) the map draws those bubbles with counts,
// else it fetches the points of the window (or of the view, if only that holds few enough) and
// draws each place once, with a count badge where several stand (stacks.js). Zooming in
// from bubbles, the last clusters tell how many points the new window holds, so the points are
// fetched at once. Replies are kept per layer (the last CACHE_SIZE windows), so going back
// draws without asking the server again. ?whole=1 on the page's URL loads every layer whole,
// as the map did before (scripts/bench_map.py compares both).
//
//   const loader = new Loader({map, ws, whole});  loader.attach(app)   // the workbench's filters
//   const w = loader.watch(name, (data) => draw(data))   // data: {kind: "features", fc, bounds}
//                                                        //    or {kind: "clusters", doc, bounds, zoom}
//   await w.ready;  w.stop();   loader.watch(name, fn, {filtered: false})  (the base map: all)
//   await loader.idle()          // no load in flight, and what came drawn (tests, the benchmark)
//   loader.state(name)           // {strategy, kind, count, requests} of what is drawn
//   loader.stats                 // {requests, features, clusters, cached}

/* global L */
import { getJSON, loadLayer } from "./api.js";

/** Layers of at most this many features load whole, once. */
export const WHOLE_MAX = 600;
/** More points than this in the window: bubbles from the clusters route instead. */
export const MAX_POINTS = 6000;
/** The window: the view padded by this fraction of its size on each side. */
export const PAD = 0.35;
/** The window of the points of a view whose padded window holds too many. */
export const TIGHT_PAD = 0.1;
/** Features per request of a window. */
export const PAGE = 10000;
/** Windows kept per layer. */
export const CACHE_SIZE = 6;
/** Windows snap to this grid of pixels at the whole zoom level: the clusters' cells. */
const SNAP = 64;

function nextPaint() {
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}

function bboxParam(b) {
  return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(7)).join(",");
}

/** Points of a clusters reply in `bounds` (cells meeting it: an upper bound). */
function countIn(doc, bounds) {
  let n = 0;
  for (const c of doc.clusters) {
    const [w, s, e, north] = c.bbox;
    if (bounds.intersects(L.latLngBounds([s, w], [north, e]))) n += c.count;
  }
  return n;
}

export class Loader {
  constructor({ map, ws, whole = false, onError = null }) {
    this.map = map;
    this.onError = onError; // (name, err): a load after the first failed (the first rejects `ready`)
    this.app = null;
    this.whole = whole;
    this.meta = new Map((ws.layers || []).map((l) => [l.name, l]));
    this.layers = new Map(); // key (name, or name|all unfiltered) -> state
    this.flying = new Map(); // path -> promise of its JSON (one request for two watchers)
    this.inflight = 0;
    this.waiters = [];
    this.stats = { requests: 0, features: 0, clusters: 0, cached: 0 };
    map.on("moveend", () => {
      for (const st of this.layers.values()) if (st.subs.size) this.refresh(st);
    });
  }

  /** Follow the workbench's filters: its "filter" event reloads that layer. */
  attach(app) {
    this.app = app;
    app.on("filter", (e) => {
      const st = this.layers.get(e.detail?.layer);
      if (st?.subs.size) this.refresh(st);
    });
  }

  refresh(st) {
    this.update(st).catch((err) => {
      if (this.onError) this.onError(st.name, err);
    });
  }

  /** How `name` loads: "whole" (once), "window" (features of the window) or "clusters"
   * (a point layer: bubbles when the window holds more than MAX_POINTS). */
  strategy(name) {
    const meta = this.meta.get(name);
    if (this.whole || !meta?.geometry || (meta.count ?? 0) <= WHOLE_MAX) return "whole";
    return meta.geometry === "POINT" ? "clusters" : "window";
  }

  /** Call `fn(data)` with the layer's data for the view now and whenever it changes;
   * `filtered: false`: all of it, whatever the workbench's filter (the base map). */
  watch(name, fn, { filtered = true } = {}) {
    const key = filtered ? name : `${name}|all`;
    let st = this.layers.get(key);
    if (!st) {
      st = { name, filtered, subs: new Set(), current: null, token: 0, cache: [], pending: null, pendingKey: null, requests: 0 };
      this.layers.set(key, st);
    }
    st.subs.add(fn);
    const now = st.current && this.covers(st, st.current);
    if (now) fn(st.current);
    return { ready: now ? Promise.resolve(st.current) : this.update(st), stop: () => st.subs.delete(fn) };
  }

  /** Resolves when what is drawn of `name` serves the current view (a load of it, if any). */
  settled(name) {
    const st = this.layers.get(name);
    return st ? this.update(st) : Promise.resolve(null);
  }

  /** Resolves when no load is in flight and what came in is drawn. */
  idle() {
    if (!this.inflight) return nextPaint();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** What is drawn of `name`: strategy, kind of data, how many features it stands for. */
  state(name) {
    const st = this.layers.get(name) || this.layers.get(`${name}|all`);
    const d = st?.current;
    const count = !d ? 0 : d.kind === "clusters" ? d.doc.numberMatched : d.fc.features.length;
    return { strategy: this.strategy(name), kind: d?.kind ?? null, count, requests: st?.requests ?? 0, zoom: d?.zoom ?? null };
  }

  // ---- which data the view needs ----

  wheres(st) {
    return this.app && st.filtered ? this.app.filter(st.name) : [];
  }

  filterKey(st) {
    return this.wheres(st).join("\u0000");
  }

  /** Does `data` serve the current view of layer state `st`? */
  covers(st, data) {
    if (data.filter !== this.filterKey(st)) return false;
    if (!data.bounds) return true; // whole
    if (!data.bounds.contains(this.map.getBounds())) return false;
    return data.kind === "features" || data.zoom === Math.floor(this.map.getZoom());
  }

  /** The window of the view: padded by `pad` and snapped outward to the SNAP-pixel grid of
   * this whole zoom level (the clusters' cells), so that nearby views ask for the same window. */
  window(pad = PAD) {
    const z = Math.floor(this.map.getZoom());
    const view = this.map.getBounds().pad(pad);
    const nw = this.map.project(view.getNorthWest(), z).divideBy(SNAP).floor().multiplyBy(SNAP);
    const se = this.map.project(view.getSouthEast(), z).divideBy(SNAP).ceil().multiplyBy(SNAP);
    return L.latLngBounds(this.map.unproject(nw, z), this.map.unproject(se, z));
  }

  /** What the view needs of `st`: a key (the same key, the same data). */
  need(st) {
    const f = this.filterKey(st);
    if (this.strategy(st.name) === "whole") return `${f}|whole`;
    return `${f}|${Math.floor(this.map.getZoom())}|${bboxParam(this.window())}`;
  }

  /** Fetch and deliver the data of the current view if what is drawn does not serve it. */
  update(st) {
    if (st.current && this.covers(st, st.current)) {
      if (st.pending) {
        st.token += 1; // back where the drawn data serves: what was on its way is not drawn
        st.pending = null;
      }
      return Promise.resolve(st.current);
    }
    const key = this.need(st);
    if (st.pending && st.pendingKey === key) return st.pending;
    const kept = st.cache.find((d) => this.covers(st, d));
    const token = ++st.token;
    const job = (async () => {
      let data = kept;
      if (data) this.stats.cached += 1;
      else {
        data = await this.fetch(st);
        st.cache.unshift(data);
        st.cache.length = Math.min(st.cache.length, CACHE_SIZE);
      }
      if (token !== st.token) return data; // a later view won
      st.current = data;
      for (const fn of st.subs) fn(data);
      return data;
    })();
    st.pendingKey = key;
    st.pending = this.track(job).finally(() => {
      if (token === st.token) st.pending = null;
    });
    return st.pending;
  }

  track(promise) {
    this.inflight += 1;
    const done = () => {
      this.inflight -= 1;
      if (this.inflight) return;
      nextPaint().then(() => {
        if (this.inflight) return;
        const waiters = this.waiters.splice(0);
        waiters.forEach((resolve) => resolve());
      });
    };
    promise.then(done, done);
    return promise;
  }

  // ---- fetching ----

  get(path, st) {
    st.requests += 1;
    if (!this.flying.has(path)) {
      this.stats.requests += 1;
      const p = getJSON(path).finally(() => this.flying.delete(path));
      this.flying.set(path, p);
    }
    return this.flying.get(path);
  }

  query(st, extra) {
    const params = new URLSearchParams(extra);
    for (const w of this.wheres(st)) params.append("where", w);
    return params;
  }

  async fetch(st) {
    const name = st.name;
    const filter = this.filterKey(st);
    const strategy = this.strategy(name);
    if (strategy === "whole") {
      if (filter) return { kind: "features", fc: await this.features(st, null), bounds: null, filter };
      st.requests += 1;
      return { kind: "features", fc: await loadLayer(name), bounds: null, filter };
    }
    const bounds = this.window();
    const zoom = Math.floor(this.map.getZoom());
    if (strategy === "clusters") {
      // How many points: from kept clusters when they cover the window, else from the server's.
      let doc = null;
      let n = this.estimate(st, bounds, filter);
      if (n === null || n > MAX_POINTS) {
        doc = await this.get(`api/layers/${encodeURIComponent(name)}/clusters?${this.query(st, { zoom, bbox: bboxParam(bounds) })}`, st);
        this.stats.clusters += 1;
        n = doc.numberMatched;
      }
      if (n > MAX_POINTS) {
        // Too many for the window; few enough in the view itself? Then the points of the view.
        const tight = this.window(TIGHT_PAD);
        const inView = doc ? countIn(doc, tight) : this.estimate(st, tight, filter);
        if (inView === null || inView > MAX_POINTS) {
          if (!doc) doc = await this.get(`api/layers/${encodeURIComponent(name)}/clusters?${this.query(st, { zoom, bbox: bboxParam(bounds) })}`, st);
          return { kind: "clusters", doc, bounds, zoom, filter };
        }
        return { kind: "features", fc: await this.features(st, tight), bounds: tight, zoom, filter };
      }
    }
    const fc = await this.features(st, bounds);
    return { kind: "features", fc, bounds, zoom, filter };
  }

  /** How many points `bounds` holds, from kept clusters that cover it (null: unknown). */
  estimate(st, bounds, filter) {
    const doc = st.cache.find((d) => d.kind === "clusters" && d.filter === filter && d.bounds.contains(bounds))?.doc;
    return doc ? countIn(doc, bounds) : null;
  }

  /** The features of `st` in `bounds` (null: all), every page, as one FeatureCollection. */
  async features(st, bounds) {
    const base = `api/layers/${encodeURIComponent(st.name)}`;
    const extra = { limit: PAGE };
    if (bounds) extra.bbox = bboxParam(bounds);
    const features = [];
    let first = null;
    for (let offset = 0; ; offset += PAGE) {
      const page = await this.get(`${base}?${this.query(st, { ...extra, offset })}`, st);
      first = first || page;
      const got = page.features || [];
      features.push(...got);
      if (got.length < PAGE || features.length >= (page.numberMatched ?? 0)) break;
    }
    this.stats.features += features.length;
    return { ...first, features, numberReturned: features.length };
  }
}
