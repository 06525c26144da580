// Small planar geometry helpers on GeoJSON coordinates ([lon, lat]); fine at community scale.

function ringArea(ring) {
  let a = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    a += (ring[j][0] + ring[i][0]) * (ring[j][1] - ring[i][1]);
  }
  return a / 2;
}

function ringCentroid(ring) {
  let a = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
    a += f;
    cx += (ring[j][0] + ring[i][0]) * f;
    cy += (ring[j][1] + ring[i][1]) * f;
  }
  if (Math.abs(a) < 1e-18) return ring[0];
  return [cx / (3 * a), cy / (3 * a)];
}

function inRing(pt, ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > pt[1] !== yj > pt[1] && pt[0] < ((xj - xi) * (pt[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function inPolygon(pt, rings) {
  return inRing(pt, rings[0]) && !rings.slice(1).some((hole) => inRing(pt, hole));
}

/** Polygons (arrays of rings) of a Polygon or MultiPolygon geometry. */
function polygonsOf(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return [geometry.coordinates];
  if (geometry.type === "MultiPolygon") return geometry.coordinates;
  return [];
}

/** Area (in squared degrees) of a polygonal geometry: only for ranking. */
export function roughArea(geometry) {
  return polygonsOf(geometry).reduce((s, rings) => s + Math.abs(ringArea(rings[0])), 0);
}

/**
 * A point well inside the largest polygon, for a label: the centroid when it falls inside,
 * else the middle of the widest inside stretch of the horizontal line through it.
 * Returns [lat, lon] (Leaflet order) or null.
 */
export function labelPoint(geometry) {
  const polys = polygonsOf(geometry).filter((p) => p.length && p[0].length >= 4);
  if (!polys.length) return null;
  const rings = polys.reduce((best, p) => (Math.abs(ringArea(p[0])) > Math.abs(ringArea(best[0])) ? p : best));
  const c = ringCentroid(rings[0]);
  if (inPolygon(c, rings)) return [c[1], c[0]];
  const y = c[1];
  const xs = [];
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if (yi > y !== yj > y) xs.push(((xj - xi) * (y - yi)) / (yj - yi) + xi);
    }
  }
  xs.sort((a, b) => a - b);
  let best = null;
  for (let k = 0; k + 1 < xs.length; k += 2) {
    if (!best || xs[k + 1] - xs[k] > best[1] - best[0]) best = [xs[k], xs[k + 1]];
  }
  if (best) return [y, (best[0] + best[1]) / 2];
  return [rings[0][0][1], rings[0][0][0]];
}
