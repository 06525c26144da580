// Who is signed in, at the top of the layer panel: the name, the role in the page's language,
// a grid worker's grids, a link to the admin page for administrators and "Sign out" (a form
// that posts to /logout with the CSRF token); "Sign in" for readers of the public layers.
//
// Hooks for tests: #user-box[data-role="<role>"][data-user="<name>"], #user-name, #user-role,
// #user-grids, #sign-out (a button of form#sign-out-form), #sign-in, #to-admin.

import { csrfToken, signInUrl } from "./api.js";
import { h } from "./dom.js";
import { getLang, onLangChange, pick, t } from "./i18n.js";

export class UserBox {
  /**
   * @param {HTMLElement} root the #user-box element of the panel
   * @param {object} session the document of api/session (user, display_name, role, role_title,
   *   grids)
   */
  constructor(root, session) {
    this.root = root;
    this.session = session;
    this.build();
    onLangChange(() => this.relabel());
  }

  build() {
    const s = this.session;
    const root = this.root;
    root.replaceChildren();
    root.dataset.role = s.role;
    root.dataset.user = s.user || "";
    root.hidden = false;
    if (!s.signed_in) {
      this.text = h("span", { class: "user-anon", id: "user-name" });
      this.signIn = h("a", { class: "btn-quiet", id: "sign-in", href: signInUrl("") });
      root.append(this.text, this.signIn);
      this.relabel();
      return;
    }
    const who = h("div", { class: "user-who" });
    this.name = h("strong", { id: "user-name" }, s.display_name || s.user);
    this.name.title = s.user;
    this.role = h("span", { id: "user-role", class: "user-role" });
    who.append(this.name, this.role);
    const actions = h("div", { class: "user-actions" });
    if (s.role === "admin") {
      this.admin = h("a", { id: "to-admin", class: "btn-quiet", href: new URL("admin", document.baseURI).pathname });
      actions.append(this.admin);
    }
    // A plain form: signing out works even when the page's script has failed since.
    const form = h("form", { id: "sign-out-form", method: "post", action: new URL("logout", document.baseURI).pathname });
    const token = h("input", { type: "hidden", name: "csrf_token" });
    csrfToken().then((value) => {
      token.value = value;
    });
    this.signOut = h("button", { type: "submit", id: "sign-out", class: "btn-quiet" });
    form.append(token, this.signOut);
    actions.append(form);
    root.append(who, actions);
    if (s.grids?.length) {
      this.grids = h("div", { id: "user-grids", class: "user-grids" });
      root.append(this.grids);
    }
    this.relabel();
  }

  relabel() {
    const s = this.session;
    this.root.setAttribute("aria-label", t("user.aria"));
    if (!s.signed_in) {
      this.text.textContent = t("user.anonymous");
      this.signIn.textContent = t("user.sign_in");
      return;
    }
    this.role.textContent = pick(s.role_title, s.role);
    this.signOut.textContent = t("user.sign_out");
    if (this.admin) this.admin.textContent = t("user.admin");
    if (this.grids) {
      this.grids.textContent = t("user.grids", { grids: s.grids.join(getLang() === "zh-CN" ? "、" : ", ") });
    }
  }
}
