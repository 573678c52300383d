// `npm start`: a local cluster (one engine per CPU unless -n N) and a JupyterLab with the tsparallel
// kernel and the "Parallel engines" panel, on Debian's jupyter_server. Prints the URL to open; Ctrl-C
// stops the lab and the cluster.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { availableParallelism, homedir } from 'node:os';
import { join } from 'node:path';
import { ensureApp } from './build-app.mjs';
import { buildLabExtension } from './build-labextension.mjs';
import { repoRoot, uiTestsDir } from './paths.mjs';

const python = process.env.TSP_PYTHON || '/usr/bin/python3';
const args = process.argv.slice(2);
const flag = name => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const engines = Number(flag('-n') ?? availableParallelism());
const port = Number(flag('--port') ?? 8888);
const notebookDir = flag('--notebook-dir') ?? process.cwd();
const profile = flag('--profile') ?? 'default';

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

requireJupyterServer();
const appDir = ensureApp();
buildLabExtension();

// A private Jupyter prefix: the user's own Jupyter setup is left as it was.
const prefix = join(process.env.TSPARALLEL_DIR || join(homedir(), '.tsparallel'), 'lab');
const dataDir = join(prefix, 'share', 'jupyter');
mkdirSync(join(prefix, 'state'), { recursive: true });
node(join(repoRoot, 'kernel', 'bin', 'tsparallel.js'), ['install', '--prefix', prefix]);
node(join(repoRoot, 'client', 'bin', 'tspcluster.js'), ['start', '-n', String(engines), '--profile', profile, '--daemonize']);

const token = randomBytes(24).toString('hex');
const server = spawn(
  python,
  [
    join(uiTestsDir, 'server', 'tsp_lab_server.py'),
    `--port=${port}`,
    '--ServerApp.ip=127.0.0.1',
    `--ServerApp.token=${token}`,
    `--ServerApp.root_dir=${notebookDir}`,
    '--ServerApp.open_browser=False',
    '--MappingKernelManager.default_kernel_name=tsparallel',
    ...(process.getuid?.() === 0 ? ['--ServerApp.allow_root=True'] : [])
  ],
  {
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

console.log(
  `\ntsparallel: a cluster of ${engines} engines (profile ${profile}) and JupyterLab are running.\n` +
    `Open  http://127.0.0.1:${port}/lab?token=${token}\n` +
    `then a notebook on the "TypeScript (tsparallel)" kernel, connect it with  %tspcluster connect  and watch the\n` +
    `"Parallel engines" tab in the left sidebar. Ctrl-C stops JupyterLab and the cluster.\n`
);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.kill('SIGTERM');
  spawnSync(process.execPath, [join(repoRoot, 'client', 'bin', 'tspcluster.js'), 'stop', '--profile', profile], { stdio: 'inherit' });
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
server.on('exit', code => {
  stop();
  process.exit(code ?? 0);
});
