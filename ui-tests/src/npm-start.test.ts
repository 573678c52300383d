/**
 * Issue 10, `npm start` as a user meets it: with the wanted port busy it prints the URL Jupyter really
 * serves (which opens the lab in Chromium), it reuses an up-to-date extension build, and Ctrl+C leaves
 * no kernel and no cluster behind, the one a notebook's kernel started included.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import { LabPage } from './support/lab-page.js';
import type { LabServer } from './support/lab-server.js';
import { uiTestsDir } from './support/paths.js';
import { clusterPids, isRunning, stopCluster, stopClusters } from './support/tsparallel.js';

/** Bounds on waits for a condition (a hang fails the test), not speed claims. */
const START_WITHIN_MS = 240_000;
const GONE_WITHIN_MS = 60_000;

let work: string;
let env: Record<string, string>;
let blocker: Server;
let busyPort: number;
let child: ChildProcess;
let output = '';
let browser: Browser;
const watched: number[] = [];

async function listenOnFreePort(): Promise<Server> {
  const server = createServer(socket => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

async function waitFor(what: string, check: () => boolean, timeout: number): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; npm start printed:\n${output}`);
    await sleep(200);
  }
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'tsp-npm-start-'));
  env = { TSPARALLEL_DIR: join(work, 'tsparallel') };
  blocker = await listenOnFreePort();
  busyPort = (blocker.address() as { port: number }).port;
  // Its own process group, so that the test can press Ctrl+C as a terminal does: SIGINT to the group.
  child = spawn(process.execPath, [join(uiTestsDir, 'scripts', 'start-lab.mjs'), '-n', '1', '--port', String(busyPort), '--notebook-dir', work], {
    cwd: work,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe']
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  await waitFor('the URL', () => /Open {2}http:\/\/\S+/.test(output) || child.exitCode !== null, START_WITHIN_MS);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close().catch(() => undefined);
  if (child && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const serverPid = Number(/JupyterLab server pid (\d+)/.exec(output)?.[1]);
  if (serverPid && isRunning(serverPid)) process.kill(-serverPid, 'SIGKILL');
  for (const pid of watched) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  stopCluster(env, 'nb');
  stopClusters(env);
  blocker?.close();
  rmSync(work, { recursive: true, force: true });
});

function printedUrl(): URL {
  const match = /Open {2}(http:\/\/\S+)/.exec(output);
  assert.ok(match, `npm start printed no URL:\n${output}`);
  return new URL(match[1]!);
}

test('5. with the port busy, npm start prints the URL Jupyter really serves, and it opens the lab', async () => {
  const url = printedUrl();
  assert.notEqual(Number(url.port), busyPort, 'not the busy port');
  assert.match(output, new RegExp(`port ${busyPort} is busy: JupyterLab uses ${url.port}`));
  const token = url.searchParams.get('token')!;
  const status = await fetch(`${url.origin}/api/status`, { headers: { Authorization: `token ${token}` } });
  assert.equal(status.status, 200, 'the printed URL is the server');
  // A user opens it: the lab loads with the sidebar.
  const server = { url: url.origin, token } as LabServer;
  const page = await LabPage.open(browser, server);
  await page.showPanel();
  await page.screenshot('npm-start-5-printed-url-opens-lab');
  await page.close();
});

test('9. npm start reuses the up-to-date lab extension build', () => {
  // test-ui built (or found) the extension just before: nothing changed since.
  assert.match(output, /the lab extension build is up to date \(reused\)/);
  assert.doesNotMatch(output, /built the lab extension/);
});

test("4. Ctrl+C on npm start leaves no kernel and no cluster behind, the one a notebook's kernel started included", async () => {
  const url = printedUrl();
  const token = url.searchParams.get('token')!;
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url.origin}${path}`, {
      method,
      headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const server = { url: url.origin, token, api } as unknown as LabServer;
  const page = await LabPage.open(browser, server);
  await page.showPanel();
  await page.openNotebook('ctrl-c.ipynb', 'tsparallel');
  await page.waitForKernelIdle();
  const kernelPid = Number(/kernel pid (\d+)/.exec(await page.runCellToEnd('console.log(`kernel pid ${process.pid}`)', 60_000))?.[1]);
  assert.ok(kernelPid > 0);
  assert.match(await page.runCellToEnd('%tspcluster start -n 1 --profile nb', 90_000), /Started a cluster with 1 engines \(profile nb\)/);
  const nb = clusterPids(env, 'nb')!;
  const npmStartCluster = clusterPids(env)!;
  const processes = [kernelPid, nb.controller, ...nb.engines, npmStartCluster.controller, ...npmStartCluster.engines];
  watched.push(...processes);
  assert.deepEqual(processes.filter(pid => !isRunning(pid)), [], `all running before Ctrl+C: kernel ${kernelPid}, nb ${JSON.stringify(nb)}, default ${JSON.stringify(npmStartCluster)}`);
  await page.screenshot('npm-start-4-before-ctrl-c');
  await page.close();

  // Ctrl+C in the terminal: SIGINT to the foreground process group.
  process.kill(-child.pid!, 'SIGINT');
  await waitFor('npm start to exit', () => child.exitCode !== null || child.signalCode !== null, GONE_WITHIN_MS);
  await waitFor('the kernel and every cluster process to be gone', () => !processes.some(isRunning), GONE_WITHIN_MS).catch(() => undefined);
  const alive = processes.filter(isRunning);
  assert.deepEqual(alive, [], `still running after Ctrl+C: ${alive.join(', ')} (kernel ${kernelPid}, nb ${JSON.stringify(nb)}, default ${JSON.stringify(npmStartCluster)})`);
});
