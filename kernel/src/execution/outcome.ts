import type { ErrorContent } from "../jupyter/messages.js";

/** How running a cell (TypeScript or magic) ended. Outputs were already published while it ran. */
export type CellOutcome =
  | { status: "ok"; value?: unknown; hasValue: boolean; payload?: Record<string, unknown>[] }
  | { status: "error"; error: ErrorContent };

export const OK: CellOutcome = { status: "ok", hasValue: false };
