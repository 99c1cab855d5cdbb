// The datasets screen: the list (with a search over what is loaded) and, for those who may
// author, the upload of a CSV by picking or dropping a file, answered with the server's
// reading of it (column types, time axis, frequency) or the problem it found.

import { api } from "../api";
import * as app from "../app";
import { field, formatDate, h, replace, scrollable } from "../dom";
import { describeFrequency } from "../time";
import type { DatasetSummary, DatasetView } from "../types";
import { Pager, screenData } from "./loading";
import { alertFor } from "./problems";

/** The API's own limit on an upload's CSV text. */
const MAX_CSV_BYTES = 5 * 1024 * 1024;

export async function datasetsView(): Promise<void> {
  const pager = new Pager<DatasetSummary>("/v1/datasets");
  if ((await screenData(() => pager.next())) === null) return;
  const items = pager.items;
  const body = h("tbody");
  const status = h("p", { class: "hint", role: "status" });
  const search = h("input", { type: "search", name: "search", autocomplete: "off", placeholder: "Name or description" });
  const table = h(
    "table",
    {},
    h("caption", { class: "visually-hidden" }, "Your datasets and those shared with you"),
    h("thead", {}, h("tr", {}, ["Name", "Rows", "Columns", "Time axis", "Updated"].map((name) => h("th", { scope: "col" }, name)))),
    body,
  );

  const renderRows = () => {
    const needle = search.value.trim().toLowerCase();
    const shown = items.filter((item) => !needle || `${item.name} ${item.description}`.toLowerCase().includes(needle));
    replace(
      body,
      shown.map((item) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: `/datasets/${item.id}`, "data-link": true }, item.name)),
          h("td", { class: "number" }, item.row_count.toLocaleString()),
          h("td", { class: "number" }, item.columns.length),
          h("td", {}, item.time_axis ? `${item.time_axis.column}, ${describeFrequency(item.time_axis.frequency)}` : "none found"),
          h("td", {}, formatDate(item.updated_at)),
        ),
      ),
    );
    status.textContent =
      items.length === 0
        ? app.canAuthor()
          ? "No datasets yet: upload a CSV below."
          : "Nothing has been shared with you yet."
        : `${shown.length} of ${items.length} datasets shown${pager.hasMore ? " (more to load)" : ""}.`;
  };
  search.addEventListener("input", renderRows);
  const more = pager.moreButton(renderRows, status);
  renderRows();

  replace(
    app.main(),
    h("h1", {}, "Datasets"),
    app.canAuthor() ? uploadForm((created) => {
      items.unshift(created);
      renderRows();
    }) : null,
    h("section", { "aria-labelledby": "list-heading" }, h("h2", { id: "list-heading" }, "All datasets"), field("Search datasets", search), status, scrollable("Datasets", table), more),
  );
}

function uploadForm(onCreated: (dataset: DatasetView) => void): HTMLElement {
  const file = h("input", { type: "file", name: "file", accept: ".csv,text/csv", required: true });
  const name = h("input", { type: "text", name: "name", maxlength: 200, required: true, autocomplete: "off" });
  const description = h("textarea", { name: "description", maxlength: 2000, rows: 2 });
  const chosen = h("p", { class: "hint", "aria-live": "polite" }, "No file chosen yet.");
  const outcome = h("div", { class: "outcome" });
  const submit = h("button", { type: "submit", class: "primary" }, "Upload");
  let picked: File | null = null;
  // The name follows the file until the person types one of their own.
  let nameFromFile = true;
  name.addEventListener("input", () => {
    nameFromFile = name.value === "";
  });

  const pick = (next: File | undefined) => {
    picked = next ?? null;
    chosen.textContent = picked ? `Chosen: ${picked.name} (${(picked.size / 1024).toFixed(1)} KiB)` : "No file chosen yet.";
    if (picked && nameFromFile) name.value = picked.name.replace(/\.csv$/i, "");
  };
  file.addEventListener("change", () => pick(file.files?.[0]));

  const zone = h(
    "div",
    { class: "dropzone" },
    h("p", {}, "Drop a CSV file here, or choose one:"),
    field("CSV file", file, "Header row first, comma-separated, up to 5 MiB, 100,000 rows and 100 columns."),
    chosen,
  );
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    pick(event.dataTransfer?.files[0]);
  });

  const form = h(
    "form",
    { class: "card", "aria-labelledby": "upload-heading", novalidate: true },
    h("h2", { id: "upload-heading" }, "Upload a CSV"),
    zone,
    field("Name", name),
    field("Description (optional)", description),
    submit,
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!picked) {
      outcome.replaceChildren(h("p", { class: "alert", role: "alert" }, "Choose a CSV file first."));
      return;
    }
    if (!name.value.trim()) {
      outcome.replaceChildren(h("p", { class: "alert", role: "alert" }, "Give the dataset a name."));
      name.focus();
      return;
    }
    if (picked.size > MAX_CSV_BYTES) {
      outcome.replaceChildren(h("p", { class: "alert", role: "alert" }, `This file is ${(picked.size / 1048576).toFixed(1)} MiB; the limit is 5 MiB.`));
      return;
    }
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    outcome.replaceChildren(h("p", { role: "status" }, "Uploading and reading the file…"));
    try {
      const csv = await picked.text();
      const created = (await api<DatasetView>("POST", "/v1/datasets", { body: { name: name.value.trim(), description: description.value, csv } })).data;
      outcome.replaceChildren(preview(created));
      onCreated(created);
      form.reset();
      nameFromFile = true;
      pick(undefined);
    } catch (error) {
      outcome.replaceChildren(h("h3", {}, "The file was refused"), alertFor(error));
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  return form;
}

/** What the server read in an upload. */
export function preview(dataset: DatasetView): HTMLElement {
  const header = dataset.columns.map((column) => column.name);
  return h(
    "section",
    { class: "preview", "aria-labelledby": "preview-heading" },
    h("h3", { id: "preview-heading" }, `Uploaded: ${dataset.name}`),
    h(
      "p",
      {},
      `${dataset.row_count.toLocaleString()} rows, ${dataset.columns.length} columns. `,
      dataset.time_axis
        ? `Time axis: ${dataset.time_axis.column}, ${describeFrequency(dataset.time_axis.frequency)}.`
        : "No time axis found: forecasts need a column of dates or times.",
    ),
    columnsTable(dataset),
    h("h4", {}, "First rows"),
    scrollable(
      "First rows",
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, header.map((name) => h("th", { scope: "col" }, name)))),
        h("tbody", {}, dataset.preview.slice(0, 5).map((row) => h("tr", {}, row.map((cell) => h("td", {}, cell))))),
      ),
    ),
    h("p", {}, h("a", { href: `/datasets/${dataset.id}`, "data-link": true }, `Open ${dataset.name}`)),
  );
}

export function columnsTable(dataset: DatasetSummary): HTMLElement {
  return scrollable(
    "Columns",
    h(
      "table",
      {},
      h("caption", {}, "Columns"),
      h("thead", {}, h("tr", {}, ["Column", "Type", "Empty cells"].map((name) => h("th", { scope: "col" }, name)))),
      h(
        "tbody",
        {},
        dataset.columns.map((column) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, column.name),
            h("td", {}, column.name === dataset.time_axis?.column ? `${column.type} (time axis)` : column.type),
            h("td", { class: "number" }, column.missing),
          ),
        ),
      ),
    ),
  );
}
