import { writeSync } from "node:fs";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

function configuredLevel(): number {
  const name = (process.env.TSPARALLEL_LOG_LEVEL ?? "info").toLowerCase();
  return name in LEVELS ? LEVELS[name as LogLevel] : LEVELS.info;
}

/** Lines lost because stderr could not take them (full disk, closed pipe). */
export const logWriteFailures = { count: 0 };

/** Bytes stderr may hold unwritten (a slow or stuck reader) before lines are dropped instead. */
const MAX_PENDING_LOG_BYTES = 1024 * 1024;

let stderrGuarded = false;
let stderrBroken = false;

/**
 * Writes one line to stderr. A log line is never worth a process: once process.stderr has failed
 * (ENOSPC on a full disk, EPIPE), its asynchronous 'error' event is swallowed (it would otherwise be
 * an uncaught exception) and lines go straight to fd 2 with writeSync, so logging resumes when the
 * disk has room again; a line that cannot be written is counted and dropped.
 */
export function writeLogLine(line: string): void {
  if (!stderrGuarded) {
    stderrGuarded = true;
    process.stderr.on("error", () => {
      stderrBroken = true;
    });
  }
  try {
    if (stderrBroken) writeSync(2, line);
    else if (process.stderr.writableLength > MAX_PENDING_LOG_BYTES) logWriteFailures.count++;
    else process.stderr.write(line);
  } catch {
    stderrBroken = true;
    logWriteFailures.count++;
  }
}

/** Plain line logger on stderr: processes are launched with stderr going to the profile's log dir. */
export function createLogger(component: string): Logger {
  const threshold = configuredLevel();
  const write = (level: LogLevel) => (message: string) => {
    if (LEVELS[level] >= threshold) writeLogLine(`${new Date().toISOString()} [${component}] ${level.toUpperCase()} ${message}\n`);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/**
 * Warnings that a peer can trigger at will (junk messages) go through here: at most one line per
 * key (peer and kind) per interval, the next line saying how many were suppressed. The key table is
 * bounded: past `maxKeys` it is cleared, which at worst lets one more line per key through.
 */
export class RateLimitedWarnings {
  readonly #keys = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly maxKeys = 1024,
  ) {}

  warn(key: string, message: string): void {
    const now = Date.now();
    const entry = this.#keys.get(key);
    if (entry && now < entry.until) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    if (!entry && this.#keys.size >= this.maxKeys) this.#keys.clear();
    this.#keys.set(key, { until: now + this.intervalMs, suppressed: 0 });
    this.log.warn(suppressed > 0 ? `${message} (and ${suppressed} more like it in the last ${Math.round(this.intervalMs / 1000)} s)` : message);
  }
}
