// The app's start: settings, the session (a callback from sign-in, or the cookie's session
// after a reload), then the screen the address names.

import "./styles.css";
import { api, configure as configureApi } from "./api";
import * as app from "./app";
import { preloadCharts } from "./chart";
import { loadConfig } from "./config";
import * as router from "./router";
import * as session from "./session";
import { renderHeader } from "./shell";
import type { Me } from "./types";
import { analysisView } from "./views/analysis";
import { datasetView } from "./views/dataset";
import { datasetsView } from "./views/datasets";
import { forecastView, newForecastView } from "./views/forecast";
import { forecastsView } from "./views/forecasts";
import { signedOut } from "./views/landing";
import { failure, notFound, show } from "./views/problems";
import { usersView } from "./views/users";

function routes(): void {
  router.route("/", async () => {
    await router.navigate("/datasets", { replace: true });
  });
  router.route("/datasets", datasetsView);
  router.route("/datasets/:id", datasetView);
  router.route("/datasets/:id/forecast", newForecastView);
  router.route("/datasets/:id/analysis", analysisView);
  router.route("/forecasts", forecastsView);
  router.route("/forecasts/:id", forecastView);
  router.route("/users", usersView);
  router.notFound(notFound);
}

async function signedIn(): Promise<void> {
  // Who they are and the screen's own data, at once.
  const me = app.learnMe(api<Me>("GET", "/v1/me").then((answer) => answer.data));
  const screen = router.render();
  await me;
  renderHeader();
  await screen;
}

async function boot(): Promise<void> {
  performance.mark("boot");
  void preloadCharts();
  const config = await loadConfig();
  performance.mark("configured");
  configureApi(config.apiBaseUrl);
  session.configure(config);
  routes();
  router.start();
  router.onRendered(renderHeader);
  session.onChange((isSignedIn) => {
    if (!isSignedIn) {
      app.setMe(null);
      renderHeader();
      signedOut("You are signed out.");
    }
  });

  const url = new URL(window.location.href);
  if (url.pathname === "/callback") {
    try {
      const returnTo = await session.completeSignIn(url);
      history.replaceState(null, "", returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/datasets");
      await signedIn();
    } catch (error) {
      history.replaceState(null, "", "/");
      renderHeader();
      signedOut(error instanceof Error ? error.message : String(error));
    }
    return;
  }
  if (await session.resume()) {
    await signedIn();
  } else {
    renderHeader();
    signedOut();
  }
}

boot().catch((error: unknown) => {
  void (error instanceof Error && error.message.includes("/config.json") ? failure(error.message) : show(error));
});
