// A button on the map: a Leaflet control at the top right, a bar holding one icon link that
// acts as a button (the print tool's, the attribute table's; map.js's "fit the whole area" is
// made the same way).

/* global L */

/**
 * Add a button to the map and return it.
 * @param {L.Map} map
 * @param {{bar: string, button: string, id: string, icon: string, attrs?: object, onClick: () => void}} spec
 *   the class of the bar (after `leaflet-bar`) and of the button, the button's id, its icon
 *   (static SVG markup), further attributes (aria-*), what a click does
 * @returns {{control: L.Control, button: HTMLAnchorElement}}
 */
export function addMapButton(map, { bar, button, id, icon, attrs = {}, onClick }) {
  let a = null;
  const Control = L.Control.extend({
    options: { position: "topright" },
    onAdd() {
      const box = L.DomUtil.create("div", `leaflet-bar ${bar}`);
      a = L.DomUtil.create("a", button, box);
      a.id = id;
      a.href = "#";
      a.setAttribute("role", "button");
      for (const [k, v] of Object.entries(attrs)) a.setAttribute(k, v);
      a.innerHTML = icon; // static markup
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.on(a, "click", (e) => {
        L.DomEvent.preventDefault(e);
        onClick();
      });
      return box;
    },
  });
  const control = new Control().addTo(map);
  return { control, button: a };
}
