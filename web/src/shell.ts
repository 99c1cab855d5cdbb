// The header: where you can go, who you are, and signing out.

import * as app from "./app";
import { h, replace } from "./dom";
import * as session from "./session";

export function renderHeader(): void {
  const top = document.getElementById("top");
  if (!top) return;
  const me = app.current();
  if (!me) {
    replace(top, h("a", { class: "brand", href: "/" }, "Forecast"));
    return;
  }
  const links: [string, string][] = [
    ["/datasets", "Datasets"],
    ["/forecasts", "Forecasts"],
  ];
  if (app.isAdmin()) links.push(["/users", "Users"]);
  const path = window.location.pathname;
  replace(
    top,
    h("a", { class: "brand", href: "/datasets", "data-link": true }, "Forecast"),
    h(
      "nav",
      { "aria-label": "Main" },
      h(
        "ul",
        {},
        links.map(([href, label]) => h("li", {}, h("a", { href, "data-link": true, "aria-current": path.startsWith(href) ? "page" : null }, label))),
      ),
    ),
    h(
      "div",
      { class: "who" },
      h("span", {}, me.account?.email ?? me.username, " ", h("span", { class: "role" }, me.role)),
      h("button", { type: "button", onclick: () => void session.signOut() }, "Sign out"),
    ),
  );
}
