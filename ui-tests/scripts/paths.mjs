import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const uiTestsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(uiTestsDir, '..');
export const labextensionDir = join(repoRoot, 'labextension');
export const nodeModules = join(uiTestsDir, 'node_modules');
export const bin = name => join(nodeModules, '.bin', name);

/**
 * Built apps are kept outside the work tree by default: CI runs in a fresh clone on the same machine,
 * and a build is a pure function of the lockfile and the app sources, so clones can share it.
 */
export const cacheRoot = process.env.TSPARALLEL_UI_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tsparallel-ui-tests');
