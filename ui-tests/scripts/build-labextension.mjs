// Builds the prebuilt (federated) JupyterLab extension in labextension/prebuilt/ with
// @jupyterlab/builder's build-labextension, against the core package versions of the test app.
// A build whose inputs (sources, styles, package.json, core versions) have not changed is reused:
// `npm start` and the UI tests do not pay the build again.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { corePackage } from './build-app.mjs';
import { ensureDeps } from './ensure-deps.mjs';
import { bin, labextensionDir } from './paths.mjs';
import { run } from './run.mjs';

const prebuiltDir = join(labextensionDir, 'prebuilt');
const stampFile = join(prebuiltDir, '.tsp-build-hash');

function* files(dir) {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* files(path);
    else yield path;
  }
}

/** A hash of everything the prebuilt extension is made from. */
function inputsHash(core) {
  const hash = createHash('sha256').update(JSON.stringify(core));
  const inputs = [join(labextensionDir, 'package.json'), join(labextensionDir, 'tsconfig.browser.json'), ...files(join(labextensionDir, 'src')), ...files(join(labextensionDir, 'style'))];
  for (const file of inputs) hash.update(file).update(readFileSync(file));
  return hash.digest('hex');
}

/** Returns the prebuilt dir and whether it was built now (false: an up-to-date build was reused). */
export function buildLabExtensionReporting() {
  ensureDeps();
  const core = corePackage();
  const hash = inputsHash(core);
  const current = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === hash && existsSync(join(prebuiltDir, 'package.json'));
  if (current) return { dir: prebuiltDir, built: false };
  run(bin('tsc'), ['-p', join(labextensionDir, 'tsconfig.browser.json')]);
  // build-labextension's --core-path wants a package.json with the core versions and singletons.
  const coreDir = mkdtempSync(join(tmpdir(), 'tsp-lab-core-'));
  try {
    writeFileSync(join(coreDir, 'package.json'), JSON.stringify(core, null, 2));
    run(bin('build-labextension'), ['--core-path', coreDir, labextensionDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  } finally {
    rmSync(coreDir, { recursive: true, force: true });
  }
  writeFileSync(stampFile, hash);
  return { dir: prebuiltDir, built: true };
}

export function buildLabExtension() {
  return buildLabExtensionReporting().dir;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { dir, built } = buildLabExtensionReporting();
  // On stderr: `npm pack --json` (which runs this as prepack) keeps stdout for its JSON.
  console.error(built ? `built ${dir}` : `${dir} is up to date (reused)`);
}
