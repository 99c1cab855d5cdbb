import { defineConfig, type Plugin } from "vite";

const localServer = "http://127.0.0.1:3000";

/** `npm run dev` only: the app's settings for an app on :5173 that signs in at the local
 * server (which registers `http://localhost:5173/callback` for this). */
function devConfig(): Plugin {
  const config = {
    apiBaseUrl: "",
    authorizeUrl: `${localServer}/oauth2/authorize`,
    logoutUrl: `${localServer}/logout`,
    clientId: "local-backend",
    scope: "openid profile email",
    redirectUri: "http://localhost:5173/callback",
    logoutRedirectUri: "http://localhost:5173/",
  };
  return {
    name: "dev-config",
    configureServer(server) {
      server.middlewares.use("/config.json", (_request, response) => {
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify(config));
      });
    },
  };
}

// The build must hold under the strict CSP the app is served with: no inline scripts or
// styles, so no module-preload polyfill (an inline helper) and assets as files, never
// `data:` URLs.
export default defineConfig({
  plugins: [devConfig()],
  build: {
    target: "es2022",
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    sourcemap: false,
  },
  server: {
    // `npm run dev`: the app on :5173 (an origin the local server allows), the API proxied
    // to the local server, where the sign-in pages are.
    port: 5173,
    strictPort: true,
    proxy: Object.fromEntries(
      ["/v1", "/auth", "/health"].map((path) => [path, localServer]),
    ),
  },
});
