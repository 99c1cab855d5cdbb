// Who is signed in, and what the screens offer them. The API decides every request; this
// only hides what would be refused.

import type { Me, Role } from "./types";

let me: Me | null = null;
let known: Promise<unknown> = Promise.resolve();

export function setMe(value: Me | null): void {
  me = value;
}

/** Who is signed in, once `load` says: screens fetch their data meanwhile, and wait for
 * it only to draw. */
export function learnMe(load: Promise<Me>): Promise<Me> {
  const learnt = load.then((value) => {
    me = value;
    return value;
  });
  known = learnt.catch(() => undefined);
  return learnt;
}

/** Settles once who is signed in is known (or could not be). */
export function meKnown(): Promise<unknown> {
  return known;
}

export function current(): Me | null {
  return me;
}

export function role(): Role | null {
  return me?.role ?? null;
}

/** Admins and analysts upload, forecast and analyse; viewers read what is shared with them. */
export function canAuthor(): boolean {
  return role() === "admin" || role() === "analyst";
}

export function isAdmin(): boolean {
  return role() === "admin";
}

/** Owners and admins manage a dataset or forecast (rename, share, delete). */
export function canManage(owner: string): boolean {
  return isAdmin() || (canAuthor() && me?.id === owner);
}

/** The main region, where each screen renders. */
export function main(): HTMLElement {
  const element = document.getElementById("main");
  if (!element) throw new Error("the page has no main region");
  return element;
}
