// Pages for what went wrong: not found, not allowed, and any other refusal in words.

import { ApiProblem } from "../api";
import * as app from "../app";
import { h, replace } from "../dom";
import * as session from "../session";

/** A page that says why there is nothing to show, and where to go instead. */
function refusal(title: string, explanation: string): Promise<void> {
  replace(app.main(), h("h1", {}, title), h("p", {}, explanation), h("p", {}, h("a", { href: "/datasets", "data-link": true }, "Go to your datasets")));
  return Promise.resolve();
}

export function notFound(): Promise<void> {
  return refusal("Not found", "There is nothing here, or it was not shared with you. If someone sent you a link, ask them to share it with your account.");
}

export function forbidden(): Promise<void> {
  return refusal("You don't have access", "Your role does not allow this page. An admin can change your role if you need it.");
}

export function failure(message: string, reference?: string | null): Promise<void> {
  replace(
    app.main(),
    h("h1", {}, "Something went wrong"),
    h("p", { role: "alert" }, message),
    reference ? h("p", { class: "hint" }, `Reference for support: ${reference}`) : null,
    h("p", {}, h("a", { href: window.location.pathname, "data-link": true }, "Try again")),
  );
  return Promise.resolve();
}

/** Shows a screen's failure as the page it calls for. */
export async function show(error: unknown): Promise<void> {
  if (error instanceof ApiProblem) {
    if (error.status === 401) {
      await session.signIn(window.location.pathname + window.location.search);
      return;
    }
    if (error.status === 403) return forbidden();
    if (error.status === 404) return notFound();
    return failure(error.describe(), error.instance);
  }
  return failure(error instanceof Error ? error.message : String(error));
}

/** An inline message for a form's refusal; a 401 still leads to sign-in. */
export function alertFor(error: unknown): HTMLElement {
  if (error instanceof ApiProblem && error.status === 401) {
    void session.signIn(window.location.pathname + window.location.search);
  }
  const text = error instanceof ApiProblem ? error.describe() : error instanceof Error ? error.message : String(error);
  const reference = error instanceof ApiProblem ? error.instance : null;
  return h("div", { class: "alert", role: "alert" }, h("p", {}, text), reference ? h("p", { class: "hint" }, `Reference: ${reference}`) : null);
}
