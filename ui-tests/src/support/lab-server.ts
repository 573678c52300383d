import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { debianPython, serverScript } from './paths.js';

export interface LabServerOptions {
  /** The built app (from scripts/build-app.mjs). */
  appDir: string;
  /** A Jupyter data dir (`share/jupyter`) holding kernels/ and labextensions/, as after `tsparallel install --prefix`. */
  dataDir: string;
  /** Extra environment for the server and so for its kernels (e.g. TSPARALLEL_DIR). */
  env?: Record<string, string>;
}

export interface LabServer {
  url: string;
  token: string;
  /** The notebook directory. */
  rootDir: string;
  /** Where the server writes its log. */
  logFile: string;
  /** Authenticated REST call on the server. */
  api(method: string, path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!killed) {
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Starts the test JupyterLab server (Debian's jupyter_server + the webpack-built app) on a free port of
 * 127.0.0.1, with a private notebook dir, settings dir and runtime dir. Resolves once the REST API answers.
 */
export async function startLabServer(options: LabServerOptions): Promise<LabServer> {
  const work = mkdtempSync(join(tmpdir(), 'tsp-lab-'));
  const rootDir = join(work, 'notebooks');
  const stateDir = join(work, 'state');
  mkdirSync(rootDir);
  mkdirSync(stateDir);
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(work, 'server.log');
  const log = createWriteStream(logFile);
  const child = spawn(
    debianPython,
    [
      serverScript,
      `--port=${port}`,
      '--ServerApp.ip=127.0.0.1',
      '--ServerApp.port_retries=0',
      `--ServerApp.token=${token}`,
      `--ServerApp.root_dir=${rootDir}`,
      '--ServerApp.open_browser=False',
      '--ServerApp.allow_root=True',
      // Test server only: lets the tests use the REST API without the XSRF cookie dance.
      '--ServerApp.disable_check_xsrf=True'
    ],
    {
      cwd: work,
      env: {
        ...process.env,
        ...options.env,
        TSP_LAB_APP_DIR: options.appDir,
        TSP_LAB_STATE_DIR: stateDir,
        TSP_LAB_EXTENSIONS: join(options.dataDir, 'labextensions'),
        // Kernel specs come from the test's data dir only, as after `tsparallel install --prefix`.
        JUPYTER_PATH: options.dataDir,
        JUPYTER_DATA_DIR: join(work, 'data'),
        JUPYTER_RUNTIME_DIR: join(work, 'runtime'),
        JUPYTER_CONFIG_DIR: join(work, 'config')
      },
      stdio: ['ignore', 'pipe', 'pipe']
    }
  );
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);

  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? null : response.json();
  };

  const stop = async () => {
    await stopProcess(child, 5000);
    log.end();
    rmSync(work, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      const output = readFileSync(logFile, 'utf8');
      await stop();
      throw new Error(`the lab server exited with ${child.exitCode}:\n${output}`);
    }
    try {
      await api('GET', '/api/status');
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error('the lab server did not answer within 30 s');
      }
      await sleep(200);
    }
  }
  return { url, token, rootDir, logFile, api, stop };
}
