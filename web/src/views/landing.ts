// The page for someone not signed in.

import * as app from "../app";
import { h, replace } from "../dom";
import * as session from "../session";

export function signedOut(message?: string): void {
  const returnTo = ["/", "/signed-out", "/callback"].includes(window.location.pathname) ? "/datasets" : window.location.pathname + window.location.search;
  replace(
    app.main(),
    h("h1", {}, "Forecast"),
    message ? h("p", { class: "alert", role: "alert" }, message) : null,
    h("p", {}, "Upload time series, find their patterns and forecast them, with intervals and the accuracy of every model tried."),
    h("p", {}, h("button", { type: "button", class: "primary", onclick: () => void session.signIn(returnTo) }, "Sign in")),
  );
}
