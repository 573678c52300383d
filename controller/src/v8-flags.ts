/**
 * V8 flags the controller sets for itself before the rest of it loads (tspcontroller imports this
 * first), so every way of starting it (the launchers, by hand) runs the same. The store's writer
 * thread shares them.
 *
 * A smaller inlining budget for TurboFan: 300 bytes of bytecode inlined into one compiled function, not
 * V8's 920. During its first ~10,000 tasks a fresh controller spent nearly as much CPU on V8's helper
 * threads compiling its hot paths as on routing (the bench's fresh tiny row: ~20 of ~45 µs per task),
 * and a compile's cost grows with what it inlines. At 300 the compiler's share fell by a quarter to a
 * third with no change in the warm per-task CPU or the 1M-item map (bench/README.md, round 8b).
 */
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--max-inlined-bytecode-size-cumulative=300");
