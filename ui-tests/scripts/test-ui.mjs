// `npm run test:ui`: installs ui-tests' toolchain if its lockfile changed, builds the test app (or takes
// it from the cache), builds the prebuilt extension, compiles the tests and runs them one file at a time.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureApp } from './build-app.mjs';
import { buildLabExtension } from './build-labextension.mjs';
import { bin, uiTestsDir } from './paths.mjs';
import { run } from './run.mjs';

const started = Date.now();
const appDir = ensureApp();
buildLabExtension();
run(bin('tsc'), ['-p', join(uiTestsDir, 'tsconfig.json')]);
console.log(`[ui-tests] app ${appDir}; prepared in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const files = process.argv.slice(2);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...(files.length ? files : [join(uiTestsDir, 'dist')])], {
  stdio: 'inherit',
  env: { ...process.env, TSP_UI_APP_DIR: appDir }
});
process.exit(result.status ?? 1);
