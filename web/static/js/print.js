// The Print tool: a button on the map (below "fit the whole area") that opens a small dialog —
// which grids (the selected ones, else those in view, else all), paper, orientation, language
// — and has the server draw the grid sheets (POST api/print, a job of api/jobs): the dialog
// shows the server's progress with a cancel button, then hands the PDF to the browser's
// downloads. "Print this page" opens the same sheets as HTML for print in a new tab (the
// browser's own print dialog prints it as laid out for the paper).
//
// Nobody signed in has no Print button (the server would refuse). A grid worker prints their
// own grids: "in view" and "all" mean theirs.
//
// Hooks for tests: #print-button; #print-dialog[data-state=idle|running|done|error|cancelled],
// inputs [name=print-grids][value=selected|view|all], #print-paper, #print-orientation,
// #print-lang, buttons #print-pdf, #print-html, #print-cancel, #print-close; #print-status
// (role=status) with #print-progress (a <progress>); #print-dialog[data-job] while a job runs.

/* global L */
import { apiFetch, attachmentName, describeError, getJSON, loadLayer, sendJSON } from "./api.js";
import { h, saveFile } from "./dom.js";
import { FINISHED, POLL_MS, sleep } from "./export_jobs.js";
import { getLang, onLangChange, t } from "./i18n.js";
import { addMapButton } from "./map_button.js";

const ICON =
  '<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true"><path d="M4.5 6V1.75h7V6M4.5 12H2.75A1 1 0 0 1 1.75 11V7A1 1 0 0 1 2.75 6h10.5a1 1 0 0 1 1 1v4a1 1 0 0 1-1 1H11.5" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round"/><path d="M4.5 9.5h7v4.75h-7z" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round"/></svg>';

/** The bounding box [minlon, minlat, maxlon, maxlat] of a GeoJSON geometry. */
function bboxOf(geometry) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => {
    if (typeof c[0] === "number") {
      box[0] = Math.min(box[0], c[0]);
      box[1] = Math.min(box[1], c[1]);
      box[2] = Math.max(box[2], c[0]);
      box[3] = Math.max(box[3], c[1]);
    } else c.forEach(walk);
  };
  if (geometry?.coordinates) walk(geometry.coordinates);
  return box;
}

class PrintTool {
  constructor(app) {
    this.app = app;
    this.session = app.session || {};
    this.grids = null; // [{code, box}] once loaded
    this.job = null;
    this.cancelling = false;
    this.state = "idle";
    this.error = null;
    this.addControl();
    this.buildDialog();
    onLangChange(() => this.relabel());
    app.on("selection", () => this.refreshChoices());
    app.map.on("moveend", () => this.refreshChoices());
    this.relabel();
  }

  // ---- the button ----
  addControl() {
    this.button = addMapButton(this.app.map, {
      bar: "gm-print",
      button: "gm-print-button",
      id: "print-button",
      icon: ICON,
      attrs: { "aria-haspopup": "dialog", "aria-controls": "print-dialog", "aria-expanded": "false" },
      onClick: () => (this.dialog.hidden ? this.open() : this.close()),
    }).button;
  }

  // ---- the dialog ----
  buildDialog() {
    const radio = (value) => {
      const input = h("input", { type: "radio", name: "print-grids", value });
      input.addEventListener("change", () => this.refreshChoices());
      const text = h("span", { class: "print-choice-text" });
      return { input, text, label: h("label", { class: "print-choice" }, input, text) };
    };
    this.choices = { selected: radio("selected"), view: radio("view"), all: radio("all") };
    const select = (id, options) => {
      const s = h("select", { id });
      for (const value of options) s.append(h("option", { value }));
      return s;
    };
    this.paper = select("print-paper", ["A4", "A3"]);
    this.orientation = select("print-orientation", ["landscape", "portrait"]);
    this.lang = select("print-lang", ["zh-CN", "en"]);
    this.pdfButton = h("button", { type: "button", id: "print-pdf", class: "print-primary" });
    this.htmlButton = h("button", { type: "button", id: "print-html", class: "print-secondary" });
    this.cancelButton = h("button", { type: "button", id: "print-cancel", class: "print-secondary", hidden: true });
    this.closeButton = h("button", { type: "button", id: "print-close", class: "print-close" });
    this.closeButton.textContent = "×";
    this.progress = h("progress", { id: "print-progress", max: "1", hidden: true });
    this.statusText = h("span", { class: "print-status-text" });
    this.status = h("div", { id: "print-status", role: "status" }, this.statusText, this.progress);
    this.title = h("h2", { id: "print-title", class: "print-title" });
    this.gridsLegend = h("legend");
    this.optionLabels = { paper: h("span"), orientation: h("span"), lang: h("span") };
    const field = (key, control) => h("label", { class: "print-field" }, this.optionLabels[key], control);
    this.dialog = h(
      "section",
      { id: "print-dialog", class: "print-dialog card", role: "dialog", "aria-labelledby": "print-title", hidden: true },
      h("header", { class: "print-head" }, this.title, this.closeButton),
      h("fieldset", { class: "print-grids" }, this.gridsLegend, this.choices.selected.label, this.choices.view.label, this.choices.all.label),
      h("div", { class: "print-options" }, field("paper", this.paper), field("orientation", this.orientation), field("lang", this.lang)),
      h("div", { class: "print-actions" }, this.pdfButton, this.htmlButton, this.cancelButton),
      this.status,
    );
    this.dialog.dataset.state = "idle";
    document.body.append(this.dialog);
    this.pdfButton.addEventListener("click", () => this.printPdf());
    this.htmlButton.addEventListener("click", () => this.printHtml());
    this.cancelButton.addEventListener("click", () => this.cancel());
    this.closeButton.addEventListener("click", () => this.close());
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !this.dialog.hidden) {
        e.preventDefault();
        this.close();
      }
    });
    L.DomEvent.disableClickPropagation(this.dialog);
    L.DomEvent.disableScrollPropagation(this.dialog);
  }

  async open() {
    this.lang.value = getLang();
    this.dialog.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.place();
    await this.loadGrids();
    const pick = this.selectedCodes().length ? "selected" : this.viewCodes().length ? "view" : "all";
    this.choices[pick].input.checked = true;
    this.refreshChoices();
    this.pdfButton.focus({ preventScroll: true });
  }

  close() {
    this.dialog.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  /** Below the map's buttons at the top right, clear of the legend card. */
  place() {
    const b = this.button.getBoundingClientRect();
    this.dialog.style.top = `${Math.round(b.top)}px`;
    this.dialog.style.right = `${Math.round(window.innerWidth - b.left + 8)}px`;
  }

  async loadGrids() {
    if (this.grids) return;
    try {
      const fc = await loadLayer("grids");
      const own = this.session.role === "grid_worker" ? new Set(this.session.grids || []) : null;
      this.grids = fc.features
        .map((f) => ({ code: f.properties?.code, box: bboxOf(f.geometry) }))
        .filter((g) => g.code && (!own || own.has(g.code)));
    } catch (err) {
      this.grids = [];
      this.fail(err);
    }
  }

  /** The grids selected on the map (a grid worker: only their own). */
  selectedCodes() {
    const own = this.session.role === "grid_worker" ? new Set(this.session.grids || []) : null;
    return this.app.selectedGrids().filter((c) => !own || own.has(c));
  }

  /** The grids whose middle is in the current view. */
  viewCodes() {
    const view = this.app.map.getBounds();
    return (this.grids || [])
      .filter(({ box }) => view.contains([(box[1] + box[3]) / 2, (box[0] + box[2]) / 2]))
      .map((g) => g.code);
  }

  chosen() {
    const which = Object.entries(this.choices).find(([, c]) => c.input.checked)?.[0] || "all";
    if (which === "selected") return { which, grids: this.selectedCodes() };
    if (which === "view") return { which, grids: this.viewCodes() };
    return { which, grids: "all", count: (this.grids || []).length };
  }

  refreshChoices() {
    if (this.dialog.hidden) return;
    const counts = { selected: this.selectedCodes().length, view: this.viewCodes().length, all: (this.grids || []).length };
    for (const [key, c] of Object.entries(this.choices)) {
      c.text.textContent = t(`print.grids.${key}`, { n: counts[key] });
      c.input.disabled = counts[key] === 0;
      c.label.classList.toggle("disabled", counts[key] === 0);
      if (c.input.checked && c.input.disabled) c.input.checked = false;
    }
    if (!Object.values(this.choices).some((c) => c.input.checked)) {
      const first = ["selected", "view", "all"].find((k) => counts[k] > 0);
      if (first) this.choices[first].input.checked = true;
    }
    const { grids } = this.chosen();
    const none = !(grids === "all" ? counts.all : grids.length);
    const busy = this.state === "running";
    this.pdfButton.disabled = none || busy;
    this.htmlButton.disabled = none || busy;
  }

  relabel() {
    this.button?.setAttribute("title", t("print.button"));
    this.button?.setAttribute("aria-label", t("print.button"));
    this.title.textContent = t("print.title");
    this.closeButton.setAttribute("aria-label", t("print.close"));
    this.gridsLegend.textContent = t("print.grids");
    this.optionLabels.paper.textContent = t("print.paper");
    this.optionLabels.orientation.textContent = t("print.orientation");
    this.optionLabels.lang.textContent = t("print.lang");
    for (const o of this.paper.options) o.textContent = o.value;
    for (const o of this.orientation.options) o.textContent = t(`print.orientation.${o.value}`);
    for (const o of this.lang.options) o.textContent = t(`print.lang.${o.value}`);
    this.pdfButton.textContent = t("print.pdf");
    this.htmlButton.textContent = t("print.html");
    this.htmlButton.title = t("print.html.title");
    this.cancelButton.textContent = t("print.cancel");
    this.refreshChoices();
    this.showStatus();
  }

  spec(format) {
    const { grids } = this.chosen();
    return {
      grids: grids === "all" ? "all" : grids.join(","),
      paper: this.paper.value,
      orientation: this.orientation.value,
      lang: this.lang.value,
      format,
    };
  }

  setState(state) {
    this.state = state;
    this.dialog.dataset.state = state;
    this.cancelButton.hidden = state !== "running";
    this.progress.hidden = state !== "running";
    this.refreshChoices();
    this.showStatus();
  }

  showStatus() {
    let text = "";
    if (this.state === "running") {
      const job = this.job;
      if (this.cancelling || job?.cancel_requested) text = t("print.cancelling");
      else if (!job) text = t("print.starting");
      else if (job.state === "queued") text = t("print.queued");
      else {
        const step = job.message?.[getLang()] ?? job.message?.en ?? "";
        text = t("print.running", { percent: Math.round((job.progress || 0) * 100), step });
      }
      this.progress.value = this.job?.progress || 0;
    } else if (this.state === "done") text = t("print.done", { file: this.savedAs || "" });
    else if (this.state === "cancelled") text = t("print.cancelled");
    else if (this.state === "error") text = t("print.error", { msg: describeError(this.error) });
    this.statusText.textContent = text;
    this.status.classList.toggle("error", this.state === "error");
  }

  fail(err) {
    this.error = err;
    this.setState("error");
  }

  async printPdf() {
    if (this.state === "running") return;
    this.job = null;
    this.cancelling = false;
    this.error = null;
    this.setState("running");
    try {
      let job = await sendJSON("POST", "api/print", this.spec("pdf"));
      this.job = job;
      this.dialog.dataset.job = job.id;
      this.showStatus();
      for (let i = 0; !FINISHED.has(job.state); i++) {
        await sleep(POLL_MS[Math.min(i, POLL_MS.length - 1)]);
        job = await getJSON(job.url);
        this.job = job;
        this.showStatus();
      }
      if (job.state === "done") {
        const resp = await apiFetch(job.result, { headers: { Accept: "application/pdf, */*;q=0.5" } });
        this.savedAs = attachmentName(resp.headers.get("Content-Disposition")) || job.filename || "grids.pdf";
        saveFile(await resp.blob(), this.savedAs);
        sendJSON("DELETE", job.url).catch(() => {}); // the page has the file: the server may forget it
        this.setState("done");
      } else if (job.state === "cancelled") this.setState("cancelled");
      else this.fail({ message: job.error?.message, code: job.error?.code });
    } catch (err) {
      this.fail(err);
    } finally {
      delete this.dialog.dataset.job;
      this.job = null;
    }
  }

  async cancel() {
    if (!this.job || this.cancelling) return;
    this.cancelling = true;
    this.showStatus();
    try {
      await sendJSON("DELETE", this.job.url);
    } catch (err) {
      this.cancelling = false;
      this.fail(err);
    }
  }

  /** HTML for print in a new tab: the browser prints it as laid out for the paper. */
  printHtml() {
    const params = new URLSearchParams(this.spec("html"));
    const url = new URL(`api/print?${params}`, document.baseURI).toString();
    window.open(url, "_blank", "noopener");
  }
}

export function install(app) {
  if (!app.session?.user) return; // printing is for signed-in users
  app.print = new PrintTool(app);
}
