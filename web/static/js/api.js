// Talking to the gridmap server. URLs are relative to the page, so the app works when it is
// mounted under a path prefix on the intranet server.

export class HttpError extends Error {
  constructor(url, status, message) {
    super(message || `${url}: HTTP ${status}`);
    this.status = status;
  }
}

function apiUrl(path) {
  return new URL(path, document.baseURI).toString();
}

export async function getJSON(path) {
  const url = apiUrl(path);
  const resp = await fetch(url, { headers: { Accept: "application/json" } });
  if (!resp.ok) {
    let message;
    try {
      message = (await resp.json()).message; // the server's {"error", "message"} shape
    } catch {
      /* not JSON */
    }
    throw new HttpError(url, resp.status, message);
  }
  return resp.json();
}

export function getWorkspace() {
  return getJSON("api/workspace");
}

const layerCache = new Map();

/**
 * The whole of a layer as one GeoJSON FeatureCollection. Fetched once and shared (the workspace
 * basemap and the streets/buildings overlays draw the same data). Follows the server's paging
 * when it returns fewer features than numberMatched.
 */
export function loadLayer(name) {
  if (!layerCache.has(name)) {
    const promise = fetchWholeLayer(name).catch((err) => {
      layerCache.delete(name); // let a later attempt retry
      throw err;
    });
    layerCache.set(name, promise);
  }
  return layerCache.get(name);
}

async function fetchWholeLayer(name) {
  const base = `api/layers/${encodeURIComponent(name)}`;
  const first = await getJSON(base);
  const features = first.features || [];
  let matched = Number.isFinite(first.numberMatched) ? first.numberMatched : features.length;
  let pageSize = first.numberReturned || features.length;
  while (features.length < matched && pageSize > 0) {
    const page = await getJSON(`${base}?limit=${pageSize}&offset=${features.length}`);
    const got = page.features || [];
    if (!got.length) break;
    features.push(...got);
    if (Number.isFinite(page.numberMatched)) matched = page.numberMatched;
  }
  return { ...first, features, numberReturned: features.length };
}
