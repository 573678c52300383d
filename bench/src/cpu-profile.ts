import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

/**
 * Reading V8 .cpuprofile files (from `node --cpu-prof` or the inspector) into the few lines that say
 * where the time went: self time by function and by source file, idle excluded.
 */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  wallMs: number;
  busyMs: number;
  byFunction: { name: string; ms: number }[];
  byFile: { name: string; ms: number }[];
}

const PSEUDO = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/** Shortens a script URL to what tells packages apart: node internals, a workspace package's dist, a dependency. */
function shortFile(url: string): string {
  if (!url) return "(native)";
  if (url.startsWith("node:")) return url;
  const path = url.replace(/^file:\/\//, "");
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
  if (dep) return `${dep[1]}/${dep[2]}`;
  const workspace = /\/(protocol|engines|controller|client|bench|tests)\/(?:dist|src)\/(.*)$/.exec(path);
  if (workspace) return `${workspace[1]}/${workspace[2]}`;
  return path;
}

function top(map: Map<string, number>, n: number): { name: string; ms: number }[] {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, ms]) => ({ name, ms }));
}

/** Ids of the nodes under any frame named in `names` (the profiler's own start and stop calls, say). */
function subtreesOf(profile: CpuProfile, names: readonly string[]): Set<number> {
  const skipped = new Set<number>();
  if (names.length === 0) return skipped;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const mark = (id: number): void => {
    skipped.add(id);
    for (const child of byId.get(id)?.children ?? []) mark(child);
  };
  for (const node of profile.nodes) if (names.includes(node.callFrame.functionName) && !skipped.has(node.id)) mark(node.id);
  return skipped;
}

export function summariseProfile(profile: CpuProfile, n = 12, excludeUnder: readonly string[] = []): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const skipped = subtreesOf(profile, excludeUnder);
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const frame = byId.get(id);
    if (!frame) return;
    if (frame.functionName === "(idle)" || skipped.has(id)) {
      idle += ms;
      return;
    }
    const file = PSEUDO.has(frame.functionName) ? frame.functionName : shortFile(frame.url);
    const fn = PSEUDO.has(frame.functionName) ? frame.functionName : `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    fns.set(fn, (fns.get(fn) ?? 0) + ms);
    files.set(file, (files.get(file) ?? 0) + ms);
  });
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  return { wallMs, busyMs: wallMs - idle, byFunction: top(fns, n), byFile: top(files, n) };
}

export function summariseFile(path: string, n = 12, excludeUnder: readonly string[] = []): ProfileSummary {
  return summariseProfile(JSON.parse(readFileSync(path, "utf8")) as CpuProfile, n, excludeUnder);
}

export function renderSummary(title: string, s: ProfileSummary): string {
  const pct = (ms: number) => `${((100 * ms) / Math.max(s.busyMs, 1e-9)).toFixed(1).padStart(5)}%`;
  const lines = [`${title}: ${(s.wallMs / 1000).toFixed(2)} s profiled, ${(s.busyMs / 1000).toFixed(2)} s on CPU`];
  lines.push("  self time by function:");
  for (const f of s.byFunction) lines.push(`    ${pct(f.ms)} ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
  lines.push("  self time by file:");
  for (const f of s.byFile) lines.push(`    ${pct(f.ms)} ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
  return lines.join("\n");
}

/** Frames of the in-process profiler itself, left out of the client's summary. */
export const PROFILER_FRAMES = ["profileThisProcess", "stopProfiling"];

/** Profiles this process (the client side of the bench) with the inspector, as `--cpu-prof` would. */
export async function profileThisProcess(): Promise<(file: string) => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  return async function stopProfiling(file: string): Promise<void> {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}
