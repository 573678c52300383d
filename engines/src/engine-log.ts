import type { Logger } from "@tsparallel/protocol";
import type { OutputCapture } from "./output-capture.js";

/** Engine log lines bypass output capture: they are not task output. */
export function uncaptured(log: Logger, capture: () => OutputCapture | null): Logger {
  const through = (write: (m: string) => void) => (message: string) => {
    const active = capture();
    if (active) active.bypass(() => write(message));
    else write(message);
  };
  return { debug: through(log.debug), info: through(log.info), warn: through(log.warn), error: through(log.error) };
}
