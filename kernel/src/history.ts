import type { HistoryEntry, JupyterContents } from "./jupyter/messages.js";

interface Record {
  line: number;
  input: string;
  output: string | null;
}

/** Glob as in IPython's history search: `*` any text, `?` one character, anchored at both ends. */
function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[\\s\\S]*").replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${escaped}$`);
}

/** The newest cells kept; older ones are dropped in batches (every buffer of the kernel is bounded). */
const KEPT_RECORDS = 10_000;
const DROP_BATCH = 1_000;

/**
 * The inputs (and text outputs) of this kernel's newest cells, for history_request. Kept in memory,
 * one session per kernel process (session number 1; 0 and negative numbers mean the current one).
 */
export class History {
  static readonly SESSION = 1;
  readonly #records: Record[] = [];

  add(line: number, input: string): void {
    this.#records.push({ line, input, output: null });
    if (this.#records.length > KEPT_RECORDS + DROP_BATCH) this.#records.splice(0, DROP_BATCH);
  }

  setOutput(line: number, output: string): void {
    const record = this.#records.findLast((r) => r.line === line);
    if (record) record.output = output;
  }

  query(request: JupyterContents["history_request"]): HistoryEntry[] {
    const entry = (r: Record): HistoryEntry => [History.SESSION, r.line, request.output ? [r.input, r.output] : r.input];
    switch (request.hist_access_type) {
      case "tail":
        return this.#records.slice(-Math.max(0, request.n ?? 10)).map(entry);
      case "range": {
        const session = request.session ?? 0;
        if (session > 0 && session !== History.SESSION) return [];
        const start = request.start ?? 0;
        const stop = request.stop ?? Number.POSITIVE_INFINITY;
        return this.#records.filter((r) => r.line >= start && r.line < stop).map(entry);
      }
      case "search": {
        const pattern = globToRegExp(request.pattern ?? "*");
        let found = this.#records.filter((r) => pattern.test(r.input));
        if (request.unique) {
          const seen = new Set<string>();
          found = found.reverse().filter((r) => !seen.has(r.input) && seen.add(r.input)).reverse();
        }
        return (request.n ? found.slice(-request.n) : found).map(entry);
      }
      default:
        return [];
    }
  }
}
