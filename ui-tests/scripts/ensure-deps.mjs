// Installs ui-tests' own node_modules (JupyterLab, webpack, playwright-core) when the lockfile changed.
// They are kept out of the root workspaces so that `npm ci` at the root stays small.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeModules, uiTestsDir } from './paths.mjs';
import { run } from './run.mjs';

export function lockfileHash() {
  return createHash('sha256').update(readFileSync(join(uiTestsDir, 'package-lock.json'))).digest('hex');
}

export function ensureDeps() {
  const stamp = join(nodeModules, '.tsp-lockfile-hash');
  const hash = lockfileHash();
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  console.log('[ui-tests] installing JupyterLab toolchain (npm ci in ui-tests/)');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: uiTestsDir });
  writeFileSync(stamp, hash);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) ensureDeps();
