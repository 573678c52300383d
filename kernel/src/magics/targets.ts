import { UsageError } from "./usage-error.js";

/** What `--targets` says: every engine, explicit ids, or a Python-style slice of the engine ids. */
export type TargetSpec = { kind: "all" } | { kind: "ids"; ids: number[]; single: boolean } | { kind: "slice"; start?: number; stop?: number; step?: number };

export function parseTargets(text: string): TargetSpec {
  const spec = text.trim().replace(/^\[(.*)\]$/, "$1");
  if (spec === "all") return { kind: "all" };
  if (spec.includes(":")) {
    const parts = spec.split(":");
    if (parts.length > 3) throw new UsageError(`bad target slice ${JSON.stringify(text)}`);
    const number = (part: string | undefined): number | undefined => {
      if (part === undefined || part.trim() === "") return undefined;
      const n = Number(part);
      if (!Number.isInteger(n)) throw new UsageError(`bad target slice ${JSON.stringify(text)}`);
      return n;
    };
    const step = number(parts[2]);
    if (step === 0) throw new UsageError("a target slice step cannot be zero");
    return { kind: "slice", start: number(parts[0]), stop: number(parts[1]), step };
  }
  const ids = spec.split(",").map((part) => part.trim()).filter(Boolean).map(Number);
  if (ids.length === 0 || ids.some((id) => !Number.isInteger(id))) {
    throw new UsageError(`bad targets ${JSON.stringify(text)}: use all, engine ids (0,2) or a slice (1:3, ::2)`);
  }
  return { kind: "ids", ids, single: ids.length === 1 && !spec.includes(",") };
}

/** Python slice semantics over the engine ids, negative indexes included. */
function slice<T>(items: T[], start?: number, stop?: number, step = 1): T[] {
  const n = items.length;
  const clamp = (i: number, low: number, high: number) => Math.min(Math.max(i < 0 ? i + n : i, low), high);
  const out: T[] = [];
  if (step > 0) {
    for (let i = clamp(start ?? 0, 0, n); i < clamp(stop ?? n, 0, n); i += step) out.push(items[i]!);
  } else {
    for (let i = clamp(start ?? n - 1, -1, n - 1); i > clamp(stop ?? -n - 1, -1, n - 1); i += step) out.push(items[i]!);
  }
  return out;
}

/** The engine ids a spec means now. */
export function resolveTargets(spec: TargetSpec, ids: number[]): number[] | "all" {
  if (spec.kind === "all") return "all";
  if (spec.kind === "ids") return spec.ids;
  return slice(ids, spec.start, spec.stop, spec.step);
}

export function describeTargets(spec: TargetSpec, resolved: number[]): string {
  if (spec.kind === "all") return "all";
  if (resolved.length > 10) return `[${resolved.slice(0, 4).join(", ")}, ..., ${resolved.slice(-4).join(", ")}]`;
  return spec.kind === "ids" && spec.single ? String(resolved[0]) : `[${resolved.join(", ")}]`;
}
