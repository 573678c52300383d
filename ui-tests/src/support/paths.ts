import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ui-tests/, from ui-tests/dist/support/. */
export const uiTestsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const repoRoot = resolve(uiTestsDir, '..');
export const serverScript = join(uiTestsDir, 'server', 'tsp_lab_server.py');
export const artifactsDir = join(uiTestsDir, 'artifacts');
export const bins = {
  tsparallel: join(repoRoot, 'kernel', 'bin', 'tsparallel.js'),
  tspcluster: join(repoRoot, 'client', 'bin', 'tspcluster.js')
};
/** Debian's python has jupyter_server and jupyterlab_server; the `python3` on PATH may not. */
export const debianPython = process.env.TSP_PYTHON || '/usr/bin/python3';
export const chromiumPath = process.env.TSP_CHROMIUM || '/usr/bin/chromium';
