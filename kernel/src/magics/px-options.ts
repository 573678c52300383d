import type { FlagSpec } from "./arguments.js";
import { parseTargets, type TargetSpec } from "./targets.js";
import { UsageError } from "./usage-error.js";

export type GroupBy = "type" | "engine" | "order";

/** Options of %px / %%px / %pxresult / %pxconfig; unset ones fall back to the %pxconfig defaults. */
export interface PxOptions {
  targets: TargetSpec;
  block: boolean;
  stream: boolean;
  groupOutputs: GroupBy;
  local: boolean;
  verbose: boolean;
  /** Seconds before a progress bar appears; negative: never. */
  progressAfter: number;
  saveName: string;
}

function seconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value)) throw new UsageError(`--progress-after needs seconds, got ${JSON.stringify(text)}`);
  return value;
}

function groupBy(text: string): GroupBy {
  if (text === "type" || text === "engine" || text === "order") return text;
  throw new UsageError(`--group-outputs must be engine, order or type, not ${JSON.stringify(text)}`);
}

function identifier(text: string): string {
  if (!/^[A-Za-z_$][\w$]*$/.test(text)) throw new UsageError(`--save-name needs a variable name, got ${JSON.stringify(text)}`);
  return text;
}

/** Flags choosing where and how code runs (%%px and %pxconfig). */
export const EXECUTION_FLAGS: FlagSpec<PxOptions>[] = [
  { names: ["--targets", "-t"], key: "targets", value: parseTargets, metavar: "all | 0,2 | 1:3" },
  { names: ["--block", "-b"], key: "block", set: true },
  { names: ["--noblock", "-a"], key: "block", set: false },
  { names: ["--stream"], key: "stream", set: true },
  { names: ["--no-stream"], key: "stream", set: false },
  { names: ["--local"], key: "local", set: true },
  { names: ["--verbose"], key: "verbose", set: true },
  { names: ["--no-verbose"], key: "verbose", set: false },
  { names: ["--progress-after"], key: "progressAfter", value: seconds, metavar: "seconds" },
];

/** Flags choosing how results are shown (%%px and %pxresult). */
export const OUTPUT_FLAGS: FlagSpec<PxOptions>[] = [
  { names: ["--group-outputs"], key: "groupOutputs", value: groupBy, metavar: "engine | order | type" },
  { names: ["-r"], key: "groupOutputs", set: "order" },
  { names: ["-e"], key: "groupOutputs", set: "engine" },
  { names: ["--save-name", "--out", "-o"], key: "saveName", value: identifier, metavar: "name" },
];

export function defaultPxOptions(): PxOptions {
  return { targets: { kind: "all" }, block: true, stream: true, groupOutputs: "type", local: false, verbose: false, progressAfter: 2, saveName: "" };
}
