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

/** Plain line logger on stderr: processes are launched with stderr going to the profile's log dir. */
export function createLogger(component: string): Logger {
  const threshold = configuredLevel();
  const write = (level: LogLevel) => (message: string) => {
    if (LEVELS[level] >= threshold) process.stderr.write(`${new Date().toISOString()} [${component}] ${level.toUpperCase()} ${message}\n`);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}
