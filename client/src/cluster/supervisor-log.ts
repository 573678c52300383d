import { appendFileSync, renameSync, statSync } from "node:fs";

/** Above this the log is moved to `<file>.1` (replacing the previous one): two files at most. */
const MAX_LOG_BYTES = 1024 * 1024;

/** The supervisor's log: one timestamped line per event, appended synchronously so a crash loses none. */
export class SupervisorLog {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  write(message: string): void {
    const line = `${new Date().toISOString()} ${message}`;
    try {
      if ((statSync(this.file, { throwIfNoEntry: false })?.size ?? 0) > MAX_LOG_BYTES) renameSync(this.file, `${this.file}.1`);
      appendFileSync(this.file, line + "\n", { mode: 0o600 });
    } catch {
      // A log that cannot be written must not stop the restarts it describes.
    }
  }
}
