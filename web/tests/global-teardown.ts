import { readFileSync, rmSync } from "node:fs";
import { stateFile } from "./global-setup";

export default function globalTeardown(): void {
  const state = JSON.parse(readFileSync(stateFile, "utf8")) as { pid?: number; dataDir: string };
  if (state.pid) {
    try {
      process.kill(state.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  rmSync(state.dataDir, { recursive: true, force: true });
}
