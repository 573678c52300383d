import type { EngineMetadata } from "@tsparallel/protocol";

const MAX_ENTRIES = 16;
const MAX_KEY = 64;
const MAX_VALUE = 256;

/**
 * What an engine reports about its launch (launcher, host, MPI rank...), kept only as a small flat
 * record: anything else is dropped, so a confused engine cannot make every snapshot large.
 */
export function sanitizeMetadata(value: unknown): EngineMetadata | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const kept: EngineMetadata = {};
  let count = 0;
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    if (count >= MAX_ENTRIES) break;
    if (key.length > MAX_KEY) continue;
    if (typeof entry === "number" && Number.isFinite(entry)) kept[key] = entry;
    else if (typeof entry === "string") kept[key] = entry.slice(0, MAX_VALUE);
    else continue;
    count++;
  }
  return count ? kept : undefined;
}
