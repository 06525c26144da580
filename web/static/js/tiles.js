// Optional online tile layers configured by the workspace admin (none by default: the intranet
// has no internet). Amap and other Chinese providers draw in GCJ-02: such layers are shifted
// back onto WGS-84 by the offset at the map centre.

/* global L */
import { wgs84ToGcj02 } from "./gcj02.js";

/** Pixel offset (at `zoom`) that moves GCJ-02 tiles onto WGS-84 data near `center`. */
export function gcjPixelOffset(map, center, zoom) {
  const [glon, glat] = wgs84ToGcj02(center.lng, center.lat);
  return map.project(center, zoom).subtract(map.project(L.latLng(glat, glon), zoom));
}

const GcjTileLayer = L.TileLayer.extend({
  onAdd(map) {
    L.TileLayer.prototype.onAdd.call(this, map);
    // Ride along with Leaflet's zoom animation (same CSS transition as its own layers).
    this._container.classList.add("leaflet-zoom-animated");
    map.on("move zoom viewreset resize", this._gcjShift, this);
    map.on("zoomanim", this._gcjAnimShift, this);
    this._gcjShift();
  },

  onRemove(map) {
    map.off("move zoom viewreset resize", this._gcjShift, this);
    map.off("zoomanim", this._gcjAnimShift, this);
    if (this._container) this._container.style.transform = "";
    L.TileLayer.prototype.onRemove.call(this, map);
  },

  _gcjApply(offset) {
    if (!this._container) return;
    this.gcjOffset = offset;
    this._container.style.transform = `translate3d(${offset.x}px, ${offset.y}px, 0)`;
  },

  _gcjShift() {
    if (this._map) this._gcjApply(gcjPixelOffset(this._map, this._map.getCenter(), this._map.getZoom()));
  },

  _gcjAnimShift(e) {
    this._gcjApply(gcjPixelOffset(this._map, e.center, e.zoom));
  },

  // Load the tiles that will show through the shifted container, not those under the view.
  _getTiledPixelBounds(center) {
    const bounds = L.TileLayer.prototype._getTiledPixelBounds.call(this, center);
    if (this._tileZoom === undefined) return bounds;
    const off = gcjPixelOffset(this._map, center, this._tileZoom);
    return L.bounds(bounds.min.subtract(off), bounds.max.subtract(off));
  },
});

/** A Leaflet tile layer for one `tiles` entry of the workspace. */
export function createTileLayer(entry) {
  const options = {
    attribution: entry.attribution || "",
    maxNativeZoom: entry.max_zoom || 18,
    maxZoom: 20,
    subdomains: entry.subdomains || "abc",
    className: entry.gcj02 ? "gm-tiles gm-tiles-gcj02" : "gm-tiles",
  };
  return entry.gcj02 ? new GcjTileLayer(entry.url, options) : L.tileLayer(entry.url, options);
}
