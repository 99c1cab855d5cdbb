// Controls more than one screen uses: export buttons and a delete that asks first.

import { download } from "../api";
import { h, toast } from "../dom";
import { alertFor } from "./problems";

/** "Export CSV" and "Export JSON" for a resource's export route. */
export function exportButtons(path: string): HTMLElement[] {
  return (["csv", "json"] as const).map((format) => {
    const button = h("button", { type: "button" }, `Export ${format.toUpperCase()}`);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        toast(`Downloaded ${await download(path, { format })}`);
      } catch (error) {
        button.after(alertFor(error));
      } finally {
        button.disabled = false;
      }
    });
    return button;
  });
}

/** A delete button that shows what will happen and waits for a second, explicit choice. */
export function deleteControl(what: string, consequence: string, action: () => Promise<void>): HTMLElement {
  const outcome = h("div");
  const start = h("button", { type: "button", class: "danger" }, `Delete ${what}`);
  const cancel = h("button", { type: "button" }, "Cancel");
  const really = h("button", { type: "button", class: "danger" }, `Yes, delete the ${what}`);
  const confirm = h("div", { class: "confirm", hidden: true }, h("p", {}, consequence), really, " ", cancel);
  start.addEventListener("click", () => {
    confirm.hidden = false;
    start.hidden = true;
    cancel.focus();
  });
  cancel.addEventListener("click", () => {
    confirm.hidden = true;
    start.hidden = false;
    start.focus();
  });
  really.addEventListener("click", async () => {
    really.disabled = true;
    try {
      await action();
    } catch (error) {
      outcome.replaceChildren(alertFor(error));
    } finally {
      really.disabled = false;
    }
  });
  return h("div", { class: "delete" }, start, confirm, outcome);
}
