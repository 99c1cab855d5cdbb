// How a screen gets its data: the first load turns a refusal into the page it calls for,
// and lists come a page at a time.

import { api } from "../api";
import * as app from "../app";
import { h } from "../dom";
import * as router from "../router";
import type { DatasetView, Page } from "../types";
import { alertFor, show } from "./problems";

/** What a screen needs before it can draw; null when the screen became a refusal page
 * (sign-in, 403, 404, a failure) or a later navigation replaced it. */
export async function screenData<T>(load: () => Promise<T>): Promise<T | null> {
  const since = router.currentRender();
  try {
    const [value] = await Promise.all([load(), app.meKnown()]);
    return router.stale(since) ? null : value;
  } catch (error) {
    if (!router.stale(since)) await show(error);
    return null;
  }
}

export async function fetchDataset(id: string | undefined): Promise<{ data: DatasetView; etag: string | null }> {
  return api<DatasetView>("GET", `/v1/datasets/${encodeURIComponent(id ?? "")}`);
}

/** A list route's pages, fetched as the person asks for more. */
export class Pager<T> {
  readonly items: T[] = [];
  private cursor: string | null = null;
  private started = false;

  constructor(
    private readonly path: string,
    private readonly query: Record<string, string | number> = {},
  ) {}

  get hasMore(): boolean {
    return !this.started || this.cursor !== null;
  }

  /** "Load more": fetches the next page, then `redraw`s; hidden once there is none. A
   * refusal is shown in `problems`. */
  moreButton(redraw: () => void, problems: Element): HTMLButtonElement {
    const button = h("button", { type: "button", hidden: !this.hasMore }, "Load more");
    button.addEventListener("click", async () => {
      try {
        await this.next();
        redraw();
      } catch (error) {
        problems.replaceChildren(alertFor(error));
      }
      button.hidden = !this.hasMore;
    });
    return button;
  }

  async next(): Promise<void> {
    const page = (await api<Page<T>>("GET", this.path, { query: { limit: 50, ...this.query, cursor: this.cursor ?? undefined } })).data;
    this.started = true;
    this.items.push(...page.items);
    this.cursor = page.next_cursor ?? null;
  }
}
