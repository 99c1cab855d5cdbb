// Admins: the users, their roles and accounts; invitations; signing someone out
// everywhere; removing an account.

import { api } from "../api";
import * as app from "../app";
import { field, formatDate, h, replace, toast } from "../dom";
import * as router from "../router";
import type { Page, Role, UserView } from "../types";
import { deleteControl } from "./controls";
import { screenData } from "./loading";
import { alertFor, forbidden } from "./problems";

const ROLES: Role[] = ["viewer", "analyst", "admin"];

export async function usersView(): Promise<void> {
  await app.meKnown();
  if (!app.isAdmin()) return forbidden();
  const users = await screenData(async () => (await api<Page<UserView>>("GET", "/v1/users", { query: { limit: 100 } })).data.items);
  if (!users) return;
  replace(
    app.main(),
    h("h1", {}, "Users"),
    inviteForm(),
    h("section", { "aria-labelledby": "users-heading" }, h("h2", { id: "users-heading" }, "Accounts"), h("ul", { class: "users" }, users.map(userCard))),
  );
}

function inviteForm(): HTMLElement {
  const email = h("input", { type: "email", name: "email", required: true, autocomplete: "off" });
  const name = h("input", { type: "text", name: "name", autocomplete: "off" });
  const role = h("select", { name: "role" }, ROLES.map((value) => h("option", { value }, value)));
  const outcome = h("div");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "invite-heading" },
    h("h2", { id: "invite-heading" }, "Invite someone"),
    field("E-mail", email),
    field("Name (optional)", name),
    field("Role", role, "Viewers read what is shared with them; analysts upload, forecast and share; admins manage users."),
    h("button", { type: "submit", class: "primary" }, "Send invitation"),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const invited = (await api<UserView>("POST", "/v1/users", { body: { email: email.value.trim(), name: name.value.trim() || null, role: role.value } })).data;
      toast(`Invited ${invited.email}: their temporary password is on its way`);
      await router.render();
    } catch (error) {
      outcome.replaceChildren(alertFor(error));
    }
  });
  return form;
}

function userCard(user: UserView): HTMLElement {
  const self = app.current()?.id === user.id;
  const outcome = h("div");
  const role = h("select", { name: "role" }, ROLES.map((value) => h("option", { value, selected: value === user.role }, value)));
  // `done` is worded after the change, from the controls as they were when it was made.
  const act = (label: string, run: () => Promise<unknown>, done: () => string) =>
    h(
      "button",
      {
        type: "button",
        onclick: async () => {
          try {
            await run();
            toast(done());
            await router.render();
          } catch (error) {
            outcome.replaceChildren(alertFor(error));
          }
        },
      },
      label,
    );
  return h(
    "li",
    { class: "card user" },
    h("h3", {}, user.email, self ? " (you)" : ""),
    h(
      "p",
      { class: "meta" },
      [user.name, user.status === "invited" ? "invited, not signed in yet" : "active", user.enabled ? "enabled" : "disabled", user.mfa_enabled ? "authenticator set up" : null, `since ${formatDate(user.created_at)}`]
        .filter(Boolean)
        .join(" · "),
    ),
    h(
      "div",
      { class: "inline" },
      field(`Role of ${user.email}`, role),
      act("Change role", () => api("PATCH", `/v1/users/${user.id}`, { body: { role: role.value } }), () => `${user.email} is now ${role.value}`),
    ),
    h(
      "div",
      { class: "actions" },
      user.enabled
        ? act("Disable", () => api("PATCH", `/v1/users/${user.id}`, { body: { enabled: false } }), () => `${user.email} is disabled`)
        : act("Enable", () => api("PATCH", `/v1/users/${user.id}`, { body: { enabled: true } }), () => `${user.email} is enabled`),
      act("Sign out everywhere", () => api("POST", `/v1/users/${user.id}/sign-out`), () => `${user.email} is signed out everywhere`),
    ),
    self
      ? null
      : deleteControl("account", `Delete ${user.email}'s account? They can no longer sign in; what they own stays.`, async () => {
          await api("DELETE", `/v1/users/${user.id}`);
          toast(`Deleted ${user.email}`);
          await router.render();
        }),
    outcome,
  );
}
