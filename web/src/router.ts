// Paths in the address bar, rendered in the page (History API). Links marked `data-link`
// navigate without a reload; after each navigation, focus moves to the new page's heading
// so screen-reader and keyboard users start there (a page load starts at the top, as
// any page does: the skip link first).

export type Params = Record<string, string>;
export type View = (params: Params, query: URLSearchParams) => Promise<void>;

interface Route {
  pattern: RegExp;
  names: string[];
  view: View;
}

const routes: Route[] = [];
let fallback: View = async () => {};
const rendered = new Set<() => void>();
let renderCount = 0;
let loaded = false;

/** Adds a route: `/datasets/:id` binds `id`. */
export function route(path: string, view: View): void {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/:([a-z]+)/gi, (_match, name: string) => {
      names.push(name);
      return "([^/]+)";
    })}$`,
  );
  routes.push({ pattern, names, view });
}

export function notFound(view: View): void {
  fallback = view;
}

/** Runs `listener` after every render, whatever started it (a link, Back, a screen's own
 * navigation): what shows the current place, such as the header's links, follows it. */
export function onRendered(listener: () => void): void {
  rendered.add(listener);
}

export function navigate(path: string, options: { replace?: boolean } = {}): Promise<void> {
  if (options.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  return render();
}

/** Renders the current location; a render started later wins over an earlier one. */
export async function render(): Promise<void> {
  const current = ++renderCount;
  const { pathname, searchParams } = new URL(window.location.href);
  for (const { pattern, names, view } of routes) {
    const match = pattern.exec(pathname);
    if (!match) continue;
    const params: Params = {};
    names.forEach((name, index) => {
      params[name] = decodeURIComponent(match[index + 1] ?? "");
    });
    await view(params, searchParams);
    settled(current);
    return;
  }
  await fallback({}, searchParams);
  settled(current);
}

function settled(render: number): void {
  if (render !== renderCount) return;
  focusHeading();
  for (const listener of rendered) listener();
}

/** Whether a later navigation has replaced the page a view is still loading. */
export function stale(since: number): boolean {
  return since !== renderCount;
}

export function currentRender(): number {
  return renderCount;
}

function focusHeading(): void {
  const heading = document.querySelector<HTMLElement>("main h1");
  if (!heading) return;
  document.title = `${heading.textContent ?? ""} · Forecast`;
  heading.tabIndex = -1;
  if (loaded) heading.focus({ preventScroll: false });
  loaded = true;
}

export function start(): void {
  window.addEventListener("popstate", () => void render());
  document.addEventListener("click", (event) => {
    const link = (event.target as Element | null)?.closest?.("a[data-link]");
    if (!(link instanceof HTMLAnchorElement)) return;
    if (event instanceof MouseEvent && (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)) return;
    event.preventDefault();
    void navigate(link.pathname + link.search);
  });
}
