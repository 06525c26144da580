// Leaflet-Geoman, the editor library, loaded on demand: the map page names its files in
// <meta name="gridmap-editor-js"> and <meta name="gridmap-editor-css"> (content-hashed URLs of
// this server, never a CDN) but does not load them, so that the first view never waits for
// ~80 kB of editor. A tool that edits geometry (grid planning) awaits loadEditor() first.
//
//   const PM = await loadEditor();   // L.PM, once; later calls get the same promise
//   editorLoaded()                   // whether it is there already
//
// Once loaded, Geoman attaches to no layer by itself (L.PM.setOptIn(true)): the tens of
// thousands of features the map draws stay plain; a tool opts a layer in with pmIgnore: false.

/* global L */

let loading = null;

function metaContent(name) {
  return document.querySelector(`meta[name="${name}"]`)?.content || null;
}

function addScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = true;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`the editor library did not load (${src})`));
    document.head.append(script);
  });
}

function addStyle(href) {
  return new Promise((resolve, reject) => {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    link.onload = () => resolve();
    link.onerror = () => reject(new Error(`the editor styles did not load (${href})`));
    document.head.append(link);
  });
}

/** Whether Leaflet-Geoman is loaded. */
export function editorLoaded() {
  return Boolean(window.L && L.PM);
}

/** Load Leaflet-Geoman (script and styles) once; resolves to L.PM. */
export function loadEditor() {
  if (editorLoaded()) return Promise.resolve(L.PM);
  if (!loading) {
    const js = metaContent("gridmap-editor-js");
    const css = metaContent("gridmap-editor-css");
    if (!js) return Promise.reject(new Error("this page names no editor library"));
    loading = Promise.all([addScript(js), css ? addStyle(css) : null])
      .then(() => {
        if (!L.PM) throw new Error("the editor library loaded but did not start");
        L.PM.setOptIn(true);
        return L.PM;
      })
      .catch((err) => {
        loading = null; // a later call tries again
        throw err;
      });
  }
  return loading;
}
