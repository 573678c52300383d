// `npm start`: a local cluster (one engine per CPU unless -n N) and a JupyterLab with the tsparallel
// kernel and the "Parallel engines" panel, on Debian's jupyter_server. Prints the URL Jupyter really
// serves; Ctrl-C shuts the kernels down (and with them the clusters they started), then the lab and
// the cluster.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureApp } from './build-app.mjs';
import { buildLabExtensionReporting } from './build-labextension.mjs';
import { repoRoot, uiTestsDir } from './paths.mjs';

const python = process.env.TSP_PYTHON || '/usr/bin/python3';
const args = process.argv.slice(2);
const flag = name => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const engines = Number(flag('-n') ?? availableParallelism());
const wantedPort = Number(flag('--port') ?? 8888);
const notebookDir = flag('--notebook-dir') ?? process.cwd();
const profile = flag('--profile') ?? 'default';
/** Like Jupyter's port_retries: the ports tried after a busy one. */
const PORT_RETRIES = 50;
/** How long the server gets to shut its kernels down (each: shutdown_request, then its clusters stop). */
const SHUTDOWN_GRACE_MS = 30_000;

function requireJupyterServer() {
  const probe = spawnSync(python, ['-c', 'import jupyter_server, jupyterlab_server'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.error(
      `npm start serves JupyterLab with Debian's Jupyter server packages, which ${python} cannot import.\n` +
        'Install them with:\n\n  sudo apt-get install python3-jupyter-server python3-jupyterlab-server\n\n' +
        '(or point TSP_PYTHON at a python that has jupyter_server 1.x and jupyterlab_server 2.x)'
    );
    process.exit(1);
  }
}

function node(script, scriptArgs, env) {
  const result = spawnSync(process.execPath, [script, ...scriptArgs], { stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function portIsFree(port) {
  return new Promise(resolve => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** The first free port from `port` on; Jupyter is then told to use exactly it, so the URL printed is true. */
async function choosePort(port) {
  for (let candidate = port; candidate <= port + PORT_RETRIES; candidate++) {
    if (await portIsFree(candidate)) return candidate;
  }
  console.error(`ports ${port}-${port + PORT_RETRIES} are all in use: pass another with --port`);
  process.exit(1);
}

requireJupyterServer();
const appDir = ensureApp();
const extension = buildLabExtensionReporting();
console.log(extension.built ? '[tsparallel] built the lab extension' : '[tsparallel] the lab extension build is up to date (reused)');

// A private Jupyter prefix: the user's own Jupyter setup is left as it was.
const prefix = join(process.env.TSPARALLEL_DIR || join(homedir(), '.tsparallel'), 'lab');
const dataDir = join(prefix, 'share', 'jupyter');
mkdirSync(join(prefix, 'state'), { recursive: true });
node(join(repoRoot, 'kernel', 'bin', 'tsparallel.js'), ['install', '--prefix', prefix]);
node(join(repoRoot, 'client', 'bin', 'tspcluster.js'), ['start', '-n', String(engines), '--profile', profile, '--daemonize']);

const port = await choosePort(wantedPort);
const token = randomBytes(24).toString('hex');
const url = `http://127.0.0.1:${port}`;
// Its own process group: the terminal's Ctrl-C reaches only this script, which then stops the server with
// SIGTERM. (A non-interactive jupyter_server takes SIGINT as KeyboardInterrupt and exits without shutting
// its kernels down, which orphaned them and the clusters they had started.)
const server = spawn(
  python,
  [
    join(uiTestsDir, 'server', 'tsp_lab_server.py'),
    `--port=${port}`,
    '--ServerApp.port_retries=0',
    '--ServerApp.ip=127.0.0.1',
    `--ServerApp.token=${token}`,
    `--ServerApp.root_dir=${notebookDir}`,
    '--ServerApp.open_browser=False',
    '--MappingKernelManager.default_kernel_name=tsparallel',
    // A kernel stops the cluster it started before it exits; give it the time before a kill.
    '--KernelManager.shutdown_wait_time=15',
    ...(process.getuid?.() === 0 ? ['--ServerApp.allow_root=True'] : [])
  ],
  {
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      TSP_LAB_APP_DIR: appDir,
      TSP_LAB_STATE_DIR: join(prefix, 'state'),
      TSP_LAB_EXTENSIONS: join(dataDir, 'labextensions'),
      JUPYTER_PATH: [dataDir, process.env.JUPYTER_PATH].filter(Boolean).join(':')
    }
  }
);

let stopping = false;
let exited = false;
const stopCluster = () =>
  spawnSync(process.execPath, [join(repoRoot, 'client', 'bin', 'tspcluster.js'), 'stop', '--profile', profile], { stdio: 'inherit' });

server.on('exit', code => {
  exited = true;
  // Stopping on Ctrl-C: stop() goes on with the cluster and exits.
  if (stopping) return;
  stopping = true;
  stopCluster();
  process.exit(code ?? 0);
});

const stop = async () => {
  if (stopping) {
    // A second Ctrl-C: no more waiting.
    if (!exited) process.kill(-server.pid, 'SIGKILL');
    return;
  }
  stopping = true;
  console.log('\n[tsparallel] stopping: shutting the kernels down, then JupyterLab and the cluster');
  // SIGTERM: jupyter_server shuts every kernel down (each stops the clusters it started), then exits.
  server.kill('SIGTERM');
  const deadline = Date.now() + SHUTDOWN_GRACE_MS;
  while (!exited && Date.now() < deadline) await sleep(100);
  if (!exited) process.kill(-server.pid, 'SIGKILL');
  stopCluster();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

// The URL is printed once the server answers on it.
for (const started = Date.now(); !exited; ) {
  try {
    const response = await fetch(`${url}/api/status`, { headers: { Authorization: `token ${token}` } });
    if (response.ok) break;
  } catch {
    // Not listening yet.
  }
  if (Date.now() - started > 60_000) {
    console.error(`JupyterLab did not answer on ${url} within 60 s`);
    await stop();
    break;
  }
  await sleep(200);
}
if (!stopping) {
  console.log(
    `\ntsparallel: a cluster of ${engines} engines (profile ${profile}) and JupyterLab are running.\n` +
      (port !== wantedPort ? `(port ${wantedPort} is busy: JupyterLab uses ${port})\n` : '') +
      `Open  ${url}/lab?token=${token}\n` +
      `(JupyterLab server pid ${server.pid})\n` +
      `then a notebook on the "TypeScript (tsparallel)" kernel, connect it with  %tspcluster connect  (or the\n` +
      `sidebar's Connect) and watch the "Parallel engines" tab in the left sidebar. Ctrl-C stops JupyterLab and the cluster.\n`
  );
}
