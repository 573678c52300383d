import { writeSync } from "node:fs";
import type { Logger } from "@tsparallel/protocol";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;

/**
 * The kernel's own log: straight to fd 2, because process.stderr is captured into the notebook
 * (jupyter_client shows the kernel's real stderr in the server's terminal or log).
 */
export function kernelLogger(): Logger {
  const threshold = LEVELS[(process.env.TSPARALLEL_LOG_LEVEL ?? "warn").toLowerCase() as keyof typeof LEVELS] ?? LEVELS.warn;
  const line = (level: keyof typeof LEVELS) => (message: string) => {
    if (LEVELS[level] < threshold) return;
    try {
      writeSync(2, `${new Date().toISOString()} [kernel] ${level.toUpperCase()} ${message}\n`);
    } catch {
      // stderr is gone; nothing to tell.
    }
  };
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}
