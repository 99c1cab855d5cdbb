// Starts the local server (the debug build of `devserver`, which `scripts/test.sh` builds)
// on a free loopback port with an empty data folder, serving the built app from web/dist.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..", "..");
export const stateFile = resolve(import.meta.dirname, "..", "test-results", "server.json");

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? done(address.port) : fail(new Error("no port"))));
    });
  });
}

export default async function globalSetup(): Promise<void> {
  const binary = process.env.FORECAST_DEVSERVER ?? join(root, "target", "debug", "devserver");
  const dataDir = mkdtempSync(join(tmpdir(), "forecast-web-"));
  const port = await freePort();
  // Another origin the server allows (as it allows the Vite dev server's), for the CORS test.
  const allowedPort = await freePort();
  const server = spawn(binary, ["serve", "--port", String(port), "--data-dir", dataDir, "--web-dir", join(root, "web", "dist"), "--cors-origin", `http://localhost:${allowedPort}`,
    // Every test browser is 127.0.0.1, and each page load renews its session at /auth/*:
    // the per-address limit (30 a minute) is for an address's real users, and has its own
    // test (api::session).
    "--auth-rate", "600"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  let output = "";
  const password = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the local server did not start in 60 s:\n${output}`)), 60_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /temporary password: (\S+)/.exec(output);
      if (found?.[1]) {
        clearTimeout(timer);
        done(found[1]);
      }
    };
    server.stdout.on("data", read);
    server.stderr.on("data", read);
    server.once("exit", (code) => fail(new Error(`the local server exited with ${code}:\n${output}`)));
  });
  server.stdout.removeAllListeners("data");
  server.stderr.removeAllListeners("data");
  server.stdout.resume();
  server.stderr.resume();
  const state = { url: `http://127.0.0.1:${port}`, dataDir, pid: server.pid, adminPassword: password, binary, allowedPort };
  mkdirSync(resolve(stateFile, ".."), { recursive: true });
  writeFileSync(stateFile, JSON.stringify(state));
  server.unref();
}
