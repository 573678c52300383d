import ts = require("typescript");
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** `@types` folders: the notebook folder's own, then the kernel's, so `process` and `Buffer` are always typed. */
export function typeRoots(cwd: string): string[] {
  const roots: string[] = [];
  const local = join(cwd, "node_modules", "@types");
  if (existsSync(join(local, "node"))) roots.push(local);
  roots.push(dirname(dirname(require.resolve("@types/node/package.json"))));
  return roots;
}

/**
 * How cells are checked: strict TypeScript for Node 20 (ES2023 library, `using` declarations),
 * every cell a module (so it may shadow earlier names), bundler-style resolution so `import`
 * finds both ESM-only and CommonJS packages, as the runtime's dynamic `import()` does.
 */
export function cellCompilerOptions(cwd: string): ts.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    lib: ["lib.es2023.d.ts", "lib.esnext.disposable.d.ts", "lib.esnext.decorators.d.ts"],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    moduleDetection: ts.ModuleDetectionKind.Force,
    resolveJsonModule: true,
    esModuleInterop: true,
    allowSyntheticDefaultImports: true,
    strict: true,
    skipLibCheck: true,
    declaration: true,
    // Tracebacks name TypeScript lines and columns (output/cell-sources.ts).
    sourceMap: true,
    preserveConstEnums: true,
    noEmitOnError: false,
    newLine: ts.NewLineKind.LineFeed,
    types: ["node"],
    typeRoots: typeRoots(cwd),
    allowJs: false,
  };
}
