// The map's controls: zoom, "fit the workspace", scale bar and the attribution (the data's
// source, and the note that the register is synthetic), kept in the page's language.

/* global L */
import { pick } from "./i18n.js";

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** Add the controls to `map`; `onFit` runs on the fit button. Returns {zoom, updateAttribution}. */
export function addControls(map, ws, { onFit }) {
  const zoom = L.control.zoom({ position: "topright" }).addTo(map);
  const FitControl = L.Control.extend({
    options: { position: "topright" },
    onAdd: () => {
      const bar = L.DomUtil.create("div", "leaflet-bar gm-fit");
      const a = L.DomUtil.create("a", "gm-fit-button", bar);
      a.id = "fit-workspace";
      a.href = "#";
      a.setAttribute("role", "button");
      a.innerHTML =
        '<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true"><path d="M2 6V2h4M10 2h4v4M14 10v4h-4M6 14H2v-4" fill="none" stroke="currentColor" stroke-width="1.8"/></svg>';
      L.DomEvent.disableClickPropagation(bar);
      L.DomEvent.on(a, "click", (e) => {
        L.DomEvent.preventDefault(e);
        onFit();
      });
      return bar;
    },
  });
  new FitControl().addTo(map);
  L.control.scale({ position: "bottomleft", metric: true, imperial: false, maxWidth: 140 }).addTo(map);
  const attribution = L.control.attribution({ position: "bottomright", prefix: "Leaflet" }).addTo(map);
  // The legend card sits just above the attribution, however many lines that takes.
  new ResizeObserver(([entry]) => {
    const height = Math.ceil(entry.target.getBoundingClientRect().height);
    document.documentElement.style.setProperty("--attribution-height", `${height}px`);
  }).observe(attribution.getContainer());
  let noteHtml = null;
  function updateAttribution() {
    if (noteHtml) attribution.removeAttribution(noteHtml);
    const parts = [];
    if (ws.attribution) parts.push(escapeHtml(ws.attribution));
    const note = pick(ws.synthetic_note, "");
    if (note) parts.push(`<span class="gm-synthetic">${escapeHtml(note)}</span>`);
    noteHtml = parts.join(" | ");
    if (noteHtml) attribution.addAttribution(noteHtml);
  }

  return { zoom, updateAttribution };
}
