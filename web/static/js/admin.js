// The administrator's page (/admin): accounts, their API tokens, the layers open to everyone and
// the access log of personal data, drawn from the JSON API under api/admin. Every change is a
// fetch with the CSRF header (api.js); the server refuses what would lock the administrators
// out, and its message is shown beside the form that asked.
//
// Hooks for tests: body[data-admin-ready="1"] once drawn; #users-table tr[data-user="<name>"]
// (data-disabled), button[data-manage="<name>"]; form#add-user; #user-detail[data-user]; form
// #edit-user, [data-action="toggle-disabled"], form#reset-password; #token-list
// li[data-token-id] (data-active), form#make-token, #new-token-value; form#remove-user;
// #public-form input[data-layer]; form#reads-filter, #reads-table tr[data-read-id]; [data-msg]
// lines (data-kind="ok" | "error").

import { describeError, getJSON, sendJSON } from "./api.js";
import { h } from "./dom.js";
import { formatNumber, getLang, loadDictionaries, normalizeLang, onLangChange, pick, setLang, storedLang, t } from "./i18n.js";

const body = document.body;
const API = "api/admin";
const state = { doc: null, detail: null, reads: { offset: 0, limit: 50, more: false, user: "", since: "" } };

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

function userPath(name, tail = "") {
  return `${API}/users/${encodeURIComponent(name)}${tail}`;
}

/** Say something on a form's message line: a success, or an error in the page's language. */
function say(key, text, kind = "ok") {
  const line = $(`[data-msg="${key}"]`);
  if (!line) return;
  line.textContent = text;
  line.dataset.kind = kind;
}

function sayError(key, err) {
  say(key, t("admin.error", { msg: describeError(err) }), "error");
}

function clear(key) {
  say(key, "", "");
}

// ---- times in the workspace's time zone ----

const timeFormats = new Map();
function formatTime(iso) {
  if (!iso) return "";
  const lang = getLang();
  if (!timeFormats.has(lang)) {
    const options = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false };
    try {
      timeFormats.set(lang, new Intl.DateTimeFormat(lang, { ...options, timeZone: state.doc?.timezone || undefined }));
    } catch {
      timeFormats.set(lang, new Intl.DateTimeFormat(lang, options)); // an unknown zone name
    }
  }
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? iso : timeFormats.get(lang).format(when);
}

function roleTitle(role) {
  const found = state.doc?.roles.find((r) => r.role === role);
  return found ? pick(found.title, role) : role;
}

function layerTitle(name) {
  return pick(state.doc?.layer_titles?.[name], name);
}

// ---- the accounts table ----

function renderUsers() {
  const tbody = $("#users-table tbody");
  tbody.replaceChildren();
  for (const u of state.doc.users) {
    const me = u.name === state.doc.me;
    const name = h("td", { class: "mono" }, u.name, me ? h("span", { class: "tag tag-me", text: t("admin.you") }) : null, u.demo ? h("span", { class: "tag", text: t("admin.demo") }) : null);
    const row = h(
      "tr",
      { dataset: { user: u.name, disabled: String(u.disabled) }, class: u.disabled ? "is-disabled" : null },
      name,
      h("td", { text: u.display_name || "" }),
      h("td", { text: roleTitle(u.role) }),
      h("td", { class: "mono small", text: u.grids.join(", ") }),
      h("td", {}, h("span", { class: `state state-${u.disabled ? "disabled" : "active"}`, text: t(u.disabled ? "admin.state.disabled" : "admin.state.active") })),
      h("td", { class: "small", text: u.last_login ? formatTime(u.last_login) : t("admin.never") }),
      h("td", { class: "num", text: formatNumber(u.active_tokens) }),
      h("td", {}, h("button", { type: "button", class: "btn-quiet", dataset: { manage: u.name }, text: t("admin.manage") })),
    );
    tbody.append(row);
  }
  for (const b of $$("[data-manage]", tbody)) b.addEventListener("click", () => openDetail(b.dataset.manage));
}

/** A new account is a grid worker unless chosen otherwise (never an administrator by default). */
const DEFAULT_ROLE = "grid_worker";

function fillRoleSelect(select) {
  const chosen = select.value;
  select.replaceChildren(...state.doc.roles.map((r) => h("option", { value: r.role, text: pick(r.title, r.role), selected: r.role === DEFAULT_ROLE })));
  if (chosen) select.value = chosen;
}

function fillGridSelect(select) {
  const chosen = new Set([...select.selectedOptions].map((o) => o.value));
  select.replaceChildren(
    ...state.doc.grids.map((g) => h("option", { value: g.code, text: g.name ? `${g.code} · ${g.name}` : g.code, selected: chosen.has(g.code) })),
  );
}

/** Show the grids field of a form only for a grid worker. */
function syncGrids(form) {
  const field = $(".grids-field", form);
  const isWorker = form.elements.role.value === "grid_worker";
  field.hidden = !isWorker;
  form.elements.grids.required = isWorker;
}

function selectedGrids(form) {
  return form.elements.role.value === "grid_worker" ? [...form.elements.grids.selectedOptions].map((o) => o.value) : [];
}

async function reload() {
  state.doc = await getJSON(API);
  timeFormats.clear();
  for (const s of $$(".role-select")) fillRoleSelect(s);
  for (const s of $$(".grid-select")) fillGridSelect(s);
  renderUsers();
  renderPublic();
  renderReadsUsers();
}

async function addUser(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clear("add-user");
  const f = form.elements;
  const doc = { name: f.name.value.trim(), display_name: f.display_name.value.trim(), role: f.role.value, grids: selectedGrids(form), password: f.password.value };
  try {
    const made = await sendJSON("POST", `${API}/users`, doc);
    form.reset();
    syncGrids(form);
    await reload();
    say("add-user", t("admin.added", { name: made.name }));
  } catch (err) {
    sayError("add-user", err);
  }
}

// ---- one account: change it, its password, its tokens, remove it ----

async function openDetail(name) {
  const box = $("#user-detail");
  try {
    state.detail = await getJSON(userPath(name));
  } catch (err) {
    sayError("add-user", err);
    return;
  }
  box.hidden = false;
  box.dataset.user = name;
  $("#new-token").hidden = true;
  $("#new-token-value").textContent = "";
  $("#remove-user").hidden = true;
  $("#remove-user").reset();
  clear("detail");
  const form = $("#edit-user");
  form.elements.display_name.value = state.detail.display_name || "";
  form.elements.role.value = state.detail.role;
  const grids = new Set(state.detail.grids);
  for (const o of form.elements.grids.options) o.selected = grids.has(o.value);
  syncGrids(form);
  renderDetail();
  box.scrollIntoView({ block: "nearest" });
}

function renderDetail() {
  const d = state.detail;
  if (!d) return;
  $("#detail-title").textContent = t("admin.detail", { name: d.display_name ? `${d.name} · ${d.display_name}` : d.name });
  const toggle = $('[data-action="toggle-disabled"]');
  toggle.textContent = t(d.disabled ? "admin.enable" : "admin.disable");
  toggle.dataset.disabled = String(d.disabled);
  $(".remove-question").textContent = t("admin.remove.confirm", { name: d.name });
  const list = $("#token-list");
  list.replaceChildren();
  if (!d.tokens.length) list.append(h("li", { class: "empty", text: t("admin.tokens.none") }));
  for (const tok of d.tokens) {
    const times = [t("admin.token.made_at", { at: formatTime(tok.created_at) }), tok.last_used ? t("admin.token.used_at", { at: formatTime(tok.last_used) }) : t("admin.token.unused")];
    if (!tok.active) times.push(t("admin.token.state.revoked", { at: formatTime(tok.revoked_at) }));
    const revoke = tok.active ? h("button", { type: "button", class: "btn-quiet", dataset: { revoke: String(tok.id) }, text: t("admin.token.revoke") }) : null;
    revoke?.addEventListener("click", () => revokeToken(tok.id));
    list.append(
      h("li", { dataset: { tokenId: String(tok.id), active: String(tok.active) }, class: tok.active ? null : "is-revoked" }, h("span", { class: "token-label", text: tok.label }), h("span", { class: "small", text: times.join(" · ") }), revoke),
    );
  }
}

async function refreshDetail() {
  if (!state.detail) return;
  state.detail = await getJSON(userPath(state.detail.name));
  renderDetail();
}

async function run(key, action, done) {
  clear(key);
  try {
    await action();
    await reload();
    await refreshDetail();
    if (done) say(key, done());
  } catch (err) {
    sayError(key, err);
  }
}

function saveUser(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const doc = { display_name: form.elements.display_name.value, role: form.elements.role.value, grids: selectedGrids(form) };
  return run("detail", () => sendJSON("PATCH", userPath(state.detail.name), doc), () => t("admin.saved"));
}

function toggleDisabled() {
  const d = state.detail;
  const disabled = !d.disabled;
  return run(
    "detail",
    () => sendJSON("PATCH", userPath(d.name), { disabled }),
    () => t(disabled ? "admin.disabled" : "admin.enabled", { name: d.name }),
  );
}

function resetPassword(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const name = state.detail.name;
  return run(
    "detail",
    async () => {
      await sendJSON("POST", userPath(name, "/password"), { password: form.elements.password.value });
      form.reset();
    },
    () => t("admin.password.done", { name }),
  );
}

async function makeToken(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clear("detail");
  try {
    const made = await sendJSON("POST", userPath(state.detail.name, "/tokens"), { label: form.elements.label.value });
    form.reset();
    $("#new-token-value").textContent = made.token; // shown this once: never fetched again
    $("#new-token").hidden = false;
    await reload();
    await refreshDetail();
  } catch (err) {
    sayError("detail", err);
  }
}

async function copyToken() {
  const text = $("#new-token-value").textContent;
  try {
    await navigator.clipboard.writeText(text);
    say("detail", t("admin.token.copied"));
  } catch {
    // no clipboard (plain http on the LAN): select the text for Ctrl+C instead
    const range = document.createRange();
    range.selectNodeContents($("#new-token-value"));
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
}

function revokeToken(id) {
  return run("detail", () => sendJSON("DELETE", userPath(state.detail.name, `/tokens/${id}`)), () => t("admin.token.revoked"));
}

async function removeUser(event) {
  event.preventDefault();
  const name = state.detail.name;
  const confirm = event.currentTarget.elements.confirm.value.trim();
  clear("detail");
  try {
    await sendJSON("DELETE", `${userPath(name)}?${new URLSearchParams({ confirm })}`);
    state.detail = null;
    $("#user-detail").hidden = true;
    await reload();
    say("add-user", t("admin.removed", { name }));
  } catch (err) {
    sayError("detail", err);
  }
}

// ---- layers open to everyone ----

function renderPublic() {
  const list = $("#public-form .check-list");
  const open = new Set(state.doc.layers.public);
  list.replaceChildren(
    ...state.doc.layers.openable.map((layer) =>
      h("li", {}, h("label", {}, h("input", { type: "checkbox", name: "layer", value: layer.name, dataset: { layer: layer.name }, checked: open.has(layer.name) }), h("span", { text: pick(layer.title, layer.name) }), h("code", { class: "small", text: layer.name }))),
    ),
  );
}

async function savePublic(event) {
  event.preventDefault();
  const layers = $$('#public-form input[name="layer"]:checked').map((i) => i.value);
  clear("public");
  try {
    const doc = await sendJSON("PUT", `${API}/public-layers`, { layers });
    state.doc.layers = doc;
    renderPublic();
    say("public", doc.public.length ? t("admin.public.saved", { n: doc.public.length }) : t("admin.public.none"));
  } catch (err) {
    sayError("public", err);
  }
}

// ---- the access log ----

function renderReadsUsers() {
  const select = $("#reads-filter").elements.user;
  const chosen = select.value;
  select.replaceChildren(h("option", { value: "", text: t("admin.reads.everyone") }), ...state.doc.users.map((u) => h("option", { value: u.name, text: u.name })));
  select.value = chosen;
}

function filterText(filter) {
  return Object.entries(filter || {})
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.map((x) => (typeof x === "number" ? Number(x.toFixed(5)) : x)).join(", ") : typeof v === "object" ? JSON.stringify(v) : v}`)
    .join("; ");
}

async function loadReads() {
  const r = state.reads;
  const params = new URLSearchParams({ limit: String(r.limit), offset: String(r.offset) });
  if (r.user) params.set("user", r.user);
  if (r.since) params.set("since", r.since);
  clear("reads");
  let doc;
  try {
    doc = await getJSON(`${API}/reads?${params}`);
  } catch (err) {
    sayError("reads", err);
    return;
  }
  r.more = doc.more;
  r.rows = doc.reads;
  renderReads();
}

function renderReads() {
  const r = state.reads;
  const tbody = $("#reads-table tbody");
  tbody.replaceChildren();
  for (const row of r.rows || []) {
    tbody.append(
      h(
        "tr",
        { dataset: { readId: String(row.id), user: row.user, layer: row.layer } },
        h("td", { class: "small", text: formatTime(row.at) }),
        h("td", { class: "mono", text: row.user }),
        h("td", { text: roleTitle(row.role) }),
        h("td", { text: t(`admin.action.${row.action}`, null, row.action) }),
        h("td", { text: layerTitle(row.layer) }),
        h("td", { class: "num", text: formatNumber(row.rows) }),
        h("td", { class: "small filter", text: filterText(row.filter) }),
      ),
    );
  }
  if (r.rows && !r.rows.length) say("reads", t("admin.reads.empty"), "info");
  $('[data-action="reads-prev"]').disabled = r.offset === 0;
  $('[data-action="reads-next"]').disabled = !r.more;
  $("#reads-page").textContent = t("admin.reads.page", { n: Math.floor(r.offset / r.limit) + 1 });
}

function filterReads(event) {
  event.preventDefault();
  const f = event.currentTarget.elements;
  Object.assign(state.reads, { user: f.user.value, since: f.since.value, offset: 0 });
  return loadReads();
}

function page(step) {
  const r = state.reads;
  r.offset = Math.max(0, r.offset + step * r.limit);
  return loadReads();
}

// ---- language ----

function relabel() {
  document.title = `${t("admin.title")} · ${t("app.title")}`;
  for (const e of $$("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of $$("[data-i18n-placeholder]")) e.placeholder = t(e.dataset.i18nPlaceholder);
  const sw = $("#lang-switch");
  sw.textContent = t("lang.switch");
  sw.title = t("lang.switch.title");
  if (!state.doc) return;
  timeFormats.clear();
  for (const s of $$(".role-select")) fillRoleSelect(s);
  renderUsers();
  renderPublic();
  renderReadsUsers();
  renderDetail();
  renderReads();
}

function initialLang() {
  const fromUrl = normalizeLang(new URL(window.location.href).searchParams.get("lang"));
  return fromUrl || storedLang() || normalizeLang(body.dataset.serverLang) || "zh-CN";
}

async function main() {
  await loadDictionaries({ "zh-CN": body.dataset.i18nZh, en: body.dataset.i18nEn });
  setLang(initialLang(), { remember: false });
  onLangChange(relabel);
  $("#lang-switch").addEventListener("click", () => setLang(getLang() === "en" ? "zh-CN" : "en"));
  await reload();
  relabel();

  const add = $("#add-user");
  add.addEventListener("submit", addUser);
  add.elements.role.addEventListener("change", () => syncGrids(add));
  syncGrids(add);
  const edit = $("#edit-user");
  edit.addEventListener("submit", saveUser);
  edit.elements.role.addEventListener("change", () => syncGrids(edit));
  $('[data-action="toggle-disabled"]').addEventListener("click", toggleDisabled);
  $('[data-action="close"]').addEventListener("click", () => {
    $("#user-detail").hidden = true;
    state.detail = null;
  });
  $("#reset-password").addEventListener("submit", resetPassword);
  $("#make-token").addEventListener("submit", makeToken);
  $('[data-action="copy-token"]').addEventListener("click", copyToken);
  $('[data-action="remove"]').addEventListener("click", () => {
    $("#remove-user").hidden = false;
    $("#remove-user").elements.confirm.focus();
  });
  $('[data-action="remove-cancel"]').addEventListener("click", () => {
    $("#remove-user").hidden = true;
    $("#remove-user").reset();
  });
  $("#remove-user").addEventListener("submit", removeUser);
  $("#public-form").addEventListener("submit", savePublic);
  $("#reads-filter").addEventListener("submit", filterReads);
  $('[data-action="reads-prev"]').addEventListener("click", () => page(-1));
  $('[data-action="reads-next"]').addEventListener("click", () => page(1));
  await loadReads();
  $("#admin-status").hidden = true;
  body.dataset.adminReady = "1";
}

main().catch((err) => {
  const status = $("#admin-status");
  status.hidden = false;
  status.classList.add("error");
  status.textContent = t("admin.error", { msg: describeError(err) });
  body.dataset.adminError = "1";
});
