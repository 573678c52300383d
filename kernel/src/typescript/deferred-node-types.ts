import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Files of @types/node (its 20.x line) that the first cells can be checked without: each holds
 * only `declare module "..."` blocks, no global declarations, and no other file of @types/node
 * imports their modules except `process.getBuiltinModule`'s table of every module's type (and
 * files of this list). A quarter of the text the first program parses. The kernel's test
 * (kernel.warmup.test.ts) recomputes this from the installed @types/node with the compiler's parser.
 */
export const DEFERRED_NODE_TYPE_FILES: readonly string[] = [
  "assert.d.ts",
  "assert/strict.d.ts",
  "cluster.d.ts",
  "constants.d.ts",
  "diagnostics_channel.d.ts",
  "domain.d.ts",
  "http2.d.ts",
  "https.d.ts",
  "inspector.generated.d.ts",
  "os.d.ts",
  "path.d.ts",
  "punycode.d.ts",
  "repl.d.ts",
  "sea.d.ts",
  "stream/consumers.d.ts",
  "string_decoder.d.ts",
  "test.d.ts",
  "trace_events.d.ts",
  "v8.d.ts",
  "wasi.d.ts",
  "zlib.d.ts",
];

/** The @types/node line the list was made for. */
const FOR_MAJOR = 20;

/** The deferred files of the @types/node in `dir`, or none when it is another line than the list's. */
export function deferredNodeTypeFiles(dir: string): Set<string> {
  let version: string;
  try {
    version = String((JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: unknown }).version);
  } catch {
    return new Set();
  }
  if (Number.parseInt(version, 10) !== FOR_MAJOR) return new Set();
  return new Set(DEFERRED_NODE_TYPE_FILES.map((file) => join(dir, file)));
}

/**
 * Whether a cell's text may reach a deferred module without naming it in an import (which the
 * partial program reports as a missing module): getBuiltinModule's result types are those modules.
 */
export function mayReachDeferredModules(code: string): boolean {
  return code.includes("getBuiltinModule");
}
