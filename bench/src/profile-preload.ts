/**
 * Loaded into our controller and engines with `NODE_OPTIONS=--import=<this file>` when the bench runs
 * with --profile (`--cpu-prof` itself is not allowed in NODE_OPTIONS). It samples the main thread from
 * start to exit and writes `<dir>/pid-<pid>.cpuprofile`, the format `node --cpu-prof` writes.
 * The function names match PROFILER_FRAMES, so the profiler's own cost is left out of the summaries.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";
import { isMainThread } from "node:worker_threads";

function profileThisProcess(dir: string): void {
  const session = new Session();
  session.connect();
  // A same-thread inspector session answers synchronously, which is what lets the exit handler work.
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 100 });
  session.post("Profiler.start");
  process.on("exit", function stopProfiling() {
    session.post("Profiler.stop", (err, result) => {
      if (!err) writeFileSync(join(dir, `pid-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}

const dir = process.env.TSP_BENCH_PROFILE_DIR;
if (dir && isMainThread) profileThisProcess(dir);
