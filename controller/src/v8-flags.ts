/**
 * V8 flags the controller sets for itself, before the rest of it loads, so that every way of starting
 * it (the launchers, tspcontroller by hand) runs the same.
 *
 * A smaller inlining budget for TurboFan (920 bytes of bytecode per compiled function by default). A
 * fresh controller spends about as much CPU compiling its hot paths on V8's helper threads as it
 * spends routing during its first ~10,000 tasks (the bench's fresh tiny row: ~20 of its ~43 µs per
 * task), and a compile's cost grows with what it inlines. At 300 that fell by a quarter with no
 * change in the warm per-task CPU (bench/README.md, round 8b).
 */
import { setFlagsFromString } from "node:v8";

setFlagsFromString(process.env.TSP_CTL_V8 ?? "--max-inlined-bytecode-size-cumulative=300");
