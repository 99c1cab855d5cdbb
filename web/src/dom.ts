// Builds DOM nodes from data: text always goes in as text, never as markup, so nothing a
// dataset or a user name holds can become HTML (and Trusted Types, which the CSP requires,
// would refuse it anyway).

export type Child = Node | string | number | null | undefined | false;
type Attribute = string | number | boolean | null | undefined;
type Handler = (event: Event) => void;
export type Props = { [name: string]: Attribute | Handler };

/** An element with `props` (attributes, or `on…` listeners) and `children`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else if (value !== false && value !== null && value !== undefined) {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children, flattening arrays and skipping empty ones. */
export function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
  }
}

/** Replaces everything in `parent` with `children`. */
export function replace(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** A labelled form field: the label names the control for screen readers and clicks. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 10)}`;
  control.id = id;
  const hintNode = hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintNode);
}

/** A table that scrolls sideways on narrow screens: focusable, so the keyboard can scroll
 * it too, and named for screen readers. */
export function scrollable(label: string, table: HTMLTableElement): HTMLElement {
  return h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": label }, table);
}

/** A short, polite message for screen readers and eyes (saved, deleted…). */
export function toast(message: string): void {
  const region = document.getElementById("toast");
  if (!region) return;
  region.textContent = message;
  window.setTimeout(() => {
    if (region.textContent === message) region.textContent = "";
  }, 6000);
}

/** When a record was made or changed, as the reader's locale writes it. */
export function formatDate(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso : new Date(time).toLocaleString();
}

/** A series' timestamp: a midnight (how a daily or coarser series' steps read) as a date. */
export function formatStamp(iso: string): string {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return iso;
  const date = new Date(time);
  const midnight = date.getUTCHours() === 0 && date.getUTCMinutes() === 0 && date.getUTCSeconds() === 0;
  return midnight ? date.toLocaleDateString(undefined, { timeZone: "UTC" }) : date.toLocaleString(undefined, { timeZone: "UTC", timeZoneName: "short" });
}

export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return value.toLocaleString(undefined, { maximumFractionDigits: digits });
}
