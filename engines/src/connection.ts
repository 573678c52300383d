import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { readConnectionFile, type EngineConnectionInfo } from "@tsparallel/protocol";

/** A launcher may start engines while the controller is still writing its connection file. */
export const CONNECTION_FILE_WAIT_MS = 10_000;

export async function waitForConnectionFile(path: string, waitMs = CONNECTION_FILE_WAIT_MS): Promise<EngineConnectionInfo> {
  const deadline = Date.now() + waitMs;
  while (!existsSync(path) && Date.now() < deadline) await sleep(100);
  return readConnectionFile(path, "engine");
}
