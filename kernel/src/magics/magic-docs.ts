import { EXECUTION_FLAGS, OUTPUT_FLAGS } from "./px-options.js";
import { TSPCLUSTER_USAGE } from "./tspcluster.js";

/** What the kernel knows of one magic: for %lsmagic, `--help`, completion and is_complete. */
export interface MagicDoc {
  name: string;
  line: boolean;
  cell: boolean;
  /** The rest of a line-magic line is code (TypeScript, or another magic). */
  takesCode: boolean;
  flags: string[];
  usage: string;
}

const names = (specs: readonly { names: string[] }[]): string[] => specs.flatMap((s) => s.names);
const pxFlags = [...names(EXECUTION_FLAGS), ...names(OUTPUT_FLAGS)];

export const MAGICS: MagicDoc[] = [
  {
    name: "px",
    line: true,
    cell: true,
    takesCode: true,
    flags: pxFlags,
    usage: `%px CODE            run one line of TypeScript on the engines (targets and options from %pxconfig)
%%px [options]      run the cell's body on the engines
  -t, --targets all | 0,2 | 1:3       engines to run on
  -b, --block / -a, --noblock         wait for the results, or return an AsyncResult
  --stream / --no-stream              show the engines' output while they run
  --local                             also run the code in this notebook
  --verbose / --no-verbose            say where the code runs
  --progress-after SECONDS            show a progress bar after this long (negative: never)
  --group-outputs engine|order|type   how outputs are grouped (-e: engine, -r: order)
  -o, --out, --save-name NAME         keep the AsyncResult as a notebook variable`,
  },
  { name: "pxresult", line: true, cell: false, takesCode: false, flags: names(OUTPUT_FLAGS), usage: "%pxresult [--group-outputs engine|order|type]   show the last %px result again" },
  { name: "result", line: true, cell: false, takesCode: false, flags: names(OUTPUT_FLAGS), usage: "%result   the same as %pxresult" },
  { name: "pxconfig", line: true, cell: false, takesCode: false, flags: [...names(EXECUTION_FLAGS), "--group-outputs"], usage: "%pxconfig [options of %%px]   set the defaults of %px and %%px" },
  { name: "autopx", line: true, cell: false, takesCode: false, flags: [], usage: "%autopx   toggle running every cell on the engines" },
  {
    name: "tspcluster",
    line: true,
    cell: false,
    takesCode: false,
    flags: ["-n", "--profile", "--cluster-id"],
    usage: TSPCLUSTER_USAGE,
  },
  { name: "lsmagic", line: true, cell: false, takesCode: false, flags: [], usage: "%lsmagic   list the magics" },
  {
    name: "time",
    line: true,
    cell: true,
    takesCode: true,
    flags: [],
    usage: "%time CODE / %%time   run the code once and print its CPU and wall-clock time",
  },
  {
    name: "timeit",
    line: true,
    cell: true,
    takesCode: true,
    flags: ["-n", "-r"],
    usage: "%timeit [-n LOOPS] [-r RUNS] CODE / %%timeit   time the code over many loops (the number of loops is chosen when -n is not given)",
  },
  { name: "whos", line: true, cell: false, takesCode: false, flags: [], usage: "%whos   list the notebook's variables with their types and values" },
];

export function magicDoc(name: string): MagicDoc | undefined {
  return MAGICS.find((m) => m.name === name);
}

/** `%lsmagic`'s text, as IPython lays it out. */
export function lsmagic(): string {
  const line = MAGICS.filter((m) => m.line).map((m) => `%${m.name}`);
  const cell = MAGICS.filter((m) => m.cell).map((m) => `%%${m.name}`);
  return `Available line magics:\n${line.join("  ")}\n\nAvailable cell magics:\n${cell.join("  ")}\n\nAutomagic is OFF, % prefix IS needed for line magics.\n`;
}

/** `%name --help` (or `-h` for magics that take no code): answered in the kernel, never sent anywhere. */
export function isHelpRequest(doc: MagicDoc | undefined, args: string): boolean {
  const trimmed = args.trim();
  return trimmed === "--help" || (!doc?.takesCode && trimmed === "-h");
}
