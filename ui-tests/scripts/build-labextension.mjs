// Builds the prebuilt (federated) JupyterLab extension in labextension/prebuilt/ with
// @jupyterlab/builder's build-labextension, against the core package versions of the test app.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { corePackage } from './build-app.mjs';
import { ensureDeps } from './ensure-deps.mjs';
import { bin, labextensionDir } from './paths.mjs';
import { run } from './run.mjs';

export function buildLabExtension() {
  ensureDeps();
  run(bin('tsc'), ['-p', join(labextensionDir, 'tsconfig.browser.json')]);
  // build-labextension's --core-path wants a package.json with the core versions and singletons.
  const coreDir = mkdtempSync(join(tmpdir(), 'tsp-lab-core-'));
  try {
    writeFileSync(join(coreDir, 'package.json'), JSON.stringify(corePackage(), null, 2));
    run(bin('build-labextension'), ['--core-path', coreDir, labextensionDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  } finally {
    rmSync(coreDir, { recursive: true, force: true });
  }
  return join(labextensionDir, 'prebuilt');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(buildLabExtension());
