/**
 * The dashboard a Dask user expects (issue 10, "A dashboard"; issue 9, the rank in the sidebar), against a
 * real JupyterLab, a real supervised cluster (`tspcluster start --daemonize`) and real Open MPI:
 * - the task stream zooms (wheel, buttons) and pans (drag, buttons), and tells a task's details on hover;
 * - CPU and memory history per engine and for the controller, which shows a busy engine;
 * - an engine's recent log lines, from the dashboard and from the sidebar's row, refreshed on demand;
 * - engines started under mpiexec show their rank in the sidebar;
 * - after the controller is lost, Reconnect waits for the profile's controller and connects to it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { startLabEnvironment, type LabEnvironment } from './support/environment.js';
import type { LabPage } from './support/lab-page.js';
import { bins } from './support/paths.js';
import { installTsparallel, startDaemonCluster, stopClusters } from './support/tsparallel.js';

let lab: LabEnvironment;
let page: LabPage;

before(async () => {
  lab = await startLabEnvironment({ name: 'dashboard-views', install: (prefix, _data, e) => installTsparallel(prefix, e), cleanup: stopClusters });
  // Engines log at info level whatever CI sets: the engine-log tests read their lines.
  startDaemonCluster({ TSPARALLEL_DIR: lab.tsparallelDir, TSPARALLEL_LOG_LEVEL: 'info' }, 2);
  page = await lab.openLab();
  await page.showPanel();
  await page.openNotebook('views.ipynb', 'tsparallel');
  await page.waitForKernelIdle();
  assert.match(await page.runCellToEnd('%tspcluster connect', 60_000), /Connected/);
  await page.panel.locator('.tsp-EngineRow[data-state="idle"]').nth(1).waitFor({ timeout: 30_000 });
  await page.command('tsparallel:open-dashboard');
});

after(async () => {
  await lab?.close();
});

const dashboard = () => page.page.locator('.tsp-Dashboard').last();
const section = (id: string) => dashboard().locator(`[data-section="${id}"]`);

/** Lets the page draw what an interaction asked for (Lumino redraws on the next animation frame). */
async function drawn(): Promise<void> {
  await page.page.evaluate(() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

async function showDashboard(): Promise<void> {
  const id = await dashboard().getAttribute('id');
  await page.page.evaluate(id => (window as unknown as { jupyterapp: { shell: { activateById(id: string): void } } }).jupyterapp.shell.activateById(id!), id);
  await dashboard().waitFor({ state: 'visible' });
}

test('1. the task stream zooms and pans (wheel, drag, buttons) and shows a task\'s details on hover', async () => {
  const output = await page.runCellToEnd(
    'import { Client } from "tsparallel";\n' +
      'async function slow(x: number) { await new Promise((r) => setTimeout(r, 400)); return x; }\n' +
      '(await Client.active!.loadBalancedView().map(slow, [0, 1, 2, 3, 4, 5])).length',
    60_000
  );
  assert.match(output, /6/);
  await showDashboard();
  const stream = section('task-stream');
  await page.page.waitForFunction(() => document.querySelectorAll('.tsp-Dashboard [data-section="task-stream"] rect.tsp-Task[data-name="slow"]').length === 6, undefined, { timeout: 30_000 });
  assert.equal(await stream.getAttribute('data-span'), '30000');
  assert.equal(await stream.getAttribute('data-live'), 'true');

  // Pause: the window stops sliding, so the pointer finds the bar where it was drawn.
  await stream.locator('button[data-live]', { hasText: 'Pause' }).click();
  await drawn();
  assert.equal(await stream.getAttribute('data-live'), 'false');
  // Hover: the task's function, engine, start and end, duration, outcome and message id.
  const bar = stream.locator('rect.tsp-Task[data-name="slow"]').first();
  const msgId = (await bar.getAttribute('data-msg-id'))!;
  const target = stream.locator(`rect.tsp-Task[data-msg-id="${msgId}"]`);
  const width0 = Number(await target.getAttribute('width'));
  let box = (await target.boundingBox())!;
  await page.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const tooltip = stream.locator('.tsp-TaskTooltip');
  await tooltip.waitFor();
  const details = await tooltip.innerText();
  for (const expected of [/^map slow/, /engine \d+/, /started \d/, /ended \d/, /ok, \d+ ms/, new RegExp(`msg ${msgId}`)]) assert.match(details, expected);

  // Wheel up over the bar zooms in around it: the window narrows and the bar widens under the pointer.
  for (let i = 0; i < 3; i++) await page.page.mouse.wheel(0, -100);
  await drawn();
  await page.page.waitForFunction(() => document.querySelector('.tsp-Dashboard [data-section="task-stream"]')?.getAttribute('data-span') === '15360');
  assert.equal(await stream.getAttribute('data-live'), 'false');
  const ratio = Number(await target.getAttribute('width')) / width0;
  assert.ok(ratio > 1.8 && ratio < 2.1, `the bar is about 1/0.8^3 wider (ratio ${ratio})`);
  box = (await target.boundingBox())!;
  const under = await page.page.evaluate(([x, y]) => document.elementFromPoint(x!, y!)?.getAttribute('data-msg-id'), [box.x + box.width / 2, box.y + box.height / 2]);
  assert.equal(under, msgId, 'zoomed around the pointer: the task is still under it');
  assert.match(await stream.locator('.tsp-SectionTitle').innerText(), /\(\d\d:\d\d:\d\d\.\d{3} – \d\d:\d\d:\d\d\.\d{3}: \d tasks?\)/, 'a paused window says its times');
  await page.screenshot('dashboard-views-1a-zoomed-task-details');

  // Paused: the bars stand still while the clock runs.
  const transform = await stream.locator('.tsp-TaskStream-bars').getAttribute('transform');
  await page.page.waitForTimeout(1500);
  assert.equal(await stream.locator('.tsp-TaskStream-bars').getAttribute('transform'), transform);

  // A drag to the left brings later times in (the tasks just ran: they sit near the right edge, and the
  // window may move up to now before it follows the clock again): the bar moves left with the pointer.
  const x0 = box.x;
  await page.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.page.mouse.down();
  for (let dx = 15; dx <= 60; dx += 15) await page.page.mouse.move(box.x + box.width / 2 - dx, box.y + box.height / 2);
  await page.page.mouse.up();
  await drawn();
  assert.equal(await stream.getAttribute('data-live'), 'false', 'still paused');
  const moved = (await target.boundingBox())!.x - x0;
  assert.ok(moved < -50 && moved > -70, `the bar followed the drag (${moved} px)`);

  // Buttons: Live follows the clock again; Zoom out doubles the span; Reset is the last 30 s.
  await stream.locator('button[data-live]', { hasText: 'Live' }).click();
  await drawn();
  assert.equal(await stream.getAttribute('data-live'), 'true');
  await stream.locator('button[data-zoom="out"]').click();
  await drawn();
  assert.equal(await stream.getAttribute('data-span'), '30720');
  await stream.locator('button[data-pan="earlier"]').click();
  await drawn();
  assert.equal(await stream.getAttribute('data-live'), 'false');
  await stream.locator('button[data-reset]').click();
  await drawn();
  assert.deepEqual([await stream.getAttribute('data-span'), await stream.getAttribute('data-live')], ['30000', 'true']);
  assert.match(await stream.locator('.tsp-SectionTitle').innerText(), /last 30 s: \d+ tasks?/);
  assert.deepEqual(page.pageErrors, []);
});

test('2. CPU and memory history per engine and for the controller; a busy engine shows', async () => {
  const ids = await page.panel.locator('.tsp-EngineRow[data-engine-id]').evaluateAll(els => els.map(el => el.getAttribute('data-engine-id')!));
  const [busy, idle] = ids as [string, string];
  await page.activateNotebook('views.ipynb');
  // Four seconds of a busy loop on one engine; what the controller said of the engines' CPU meanwhile, for the record.
  const output = await page.runCellToEnd(
    'import { Client } from "tsparallel";\n' +
      `const busyRun = Client.active!.directView(${busy}).execute("const until = Date.now() + 4000; while (Date.now() < until) {}");\n` +
      'const cpuSeen: string[] = [];\n' +
      'for (let k = 0; k < 8; k++) { await new Promise((r) => setTimeout(r, 500)); cpuSeen.push((await Client.active!.status()).engines.map((e) => `${e.id}:${e.cpu}`).join("/")); }\n' +
      'await busyRun;\ncpuSeen.join(" ")',
    60_000
  );
  assert.doesNotMatch(output, /Error/);
  await showDashboard();
  const resources = section('resources');
  // No absolute figure: on a loaded machine a busy loop gets what the scheduler gives it; the idle engine gets nothing.
  // Both series get a reading from each snapshot: compared reading by reading, from the newest back.
  const recent = async (id: string) =>
    ((await resources.locator(`.tsp-Resources-row[data-engine-id="${id}"]`).getAttribute('data-cpu-recent')) ?? '').split(',').filter(Boolean).map(Number).reverse();
  let seen = '';
  for (const deadline = Date.now() + 30_000; ; ) {
    const [b, i] = [await recent(busy), await recent(idle)];
    seen = `busy engine ${busy}: ${b.join(' ')}; idle engine ${idle}: ${i.join(' ')} (newest first)`;
    if (b.some((cpu, k) => k < i.length && cpu >= 5 && cpu > 2 * i[k]! + 1)) break;
    assert.ok(Date.now() < deadline, `the busy engine's CPU never stood out: ${seen}; the controller said ${output}`);
    await page.page.waitForTimeout(500);
  }
  const keys = await resources.locator('.tsp-Resources-row').evaluateAll(els => els.map(el => el.getAttribute('data-series')));
  assert.deepEqual(keys, ['controller', ...ids.map(id => `engine-${id}`)]);
  for (const row of await resources.locator('.tsp-Resources-row').all()) {
    assert.ok(Number(await row.getAttribute('data-points')) >= 2, 'a series, not a point');
    assert.ok(((await row.locator('.tsp-Spark-rss polyline').getAttribute('points')) ?? '').split(' ').length >= 2);
    assert.match(await row.innerText(), /CPU \d+%[\s\S]*\d(\.\d)? MiB/);
  }
  await page.screenshot('dashboard-views-2-resources');
});

function tspcluster(...args: string[]): string {
  return execFileSync(process.execPath, [bins.tspcluster, ...args], { env: { ...process.env, TSPARALLEL_DIR: lab.tsparallelDir, TSPARALLEL_LOG_LEVEL: 'info' }, encoding: 'utf8', timeout: 90_000 });
}

test('3. an engine\'s recent log lines, on the dashboard and from its sidebar row, refreshed on demand', async () => {
  const id = (await page.panel.locator('.tsp-EngineRow[data-engine-id]').first().getAttribute('data-engine-id'))!;
  const log = section('engine-log');
  await log.locator('select').selectOption(id);
  await page.page.waitForFunction(() => document.querySelector('.tsp-Dashboard [data-section="engine-log"]')?.getAttribute('data-state') === 'loaded');
  assert.match(await log.locator('.tsp-EngineLog-lines').innerText(), new RegExp(`registered as engine ${id} \\(pid \\d+`));
  assert.match(await log.locator('.tsp-EngineLog-source').innerText(), /^Last \d+ lines? of .*engine-\d+-\d+\.log$/);
  assert.doesNotMatch(await log.locator('.tsp-EngineLog-lines').innerText(), /SIGINT while idle/);

  // Something new in the engine's log (an interrupt while idle), then Refresh shows it.
  await page.panel.locator(`.tsp-EngineRow[data-engine-id="${id}"] button[data-action="interrupt_engine"]`).click();
  await page.panel.locator('.tsp-Action[data-action="interrupt_engine"][data-outcome="ok"]').waitFor({ timeout: 30_000 });
  await showDashboard();
  await page.page.waitForFunction(
    async () => {
      const section = document.querySelector('.tsp-Dashboard [data-section="engine-log"]')!;
      (section.querySelector('button[data-action="refresh-log"]') as HTMLButtonElement).click();
      await new Promise(r => setTimeout(r, 500));
      return /SIGINT while idle/.test(section.querySelector('.tsp-EngineLog-lines')!.textContent ?? '');
    },
    undefined,
    { timeout: 20_000, polling: 1000 }
  );
  await page.screenshot('dashboard-views-3a-engine-log');

  // From the sidebar: the row's log button opens the engine's log in a pane of its own.
  await page.panel.locator(`.tsp-EngineRow[data-engine-id="${id}"] button[data-action="show_log"]`).click();
  const pane = page.page.locator('.tsp-EngineLogPane').last();
  await pane.locator('.tsp-EngineLog[data-state="loaded"]').waitFor({ timeout: 20_000 });
  assert.match(await pane.locator('.tsp-EngineLog-lines').innerText(), new RegExp(`registered as engine ${id} `));
});

test('5. engines started under mpiexec show their rank in the sidebar (issue 9), and their shared log says so', async () => {
  const mpiArgs = process.getuid?.() === 0 ? '--allow-run-as-root --oversubscribe' : '--oversubscribe';
  assert.match(tspcluster('engines', 'add', '2', '--engines', 'mpi', '--mpi-args', mpiArgs), /added engines/);
  await page.page.waitForFunction(() => document.querySelectorAll('#tsparallel-engines .tsp-EngineRow[data-rank]').length === 2, undefined, { timeout: 30_000 });
  const ranks = await page.panel.locator('.tsp-EngineRow[data-rank]').evaluateAll(els =>
    els.map(el => [el.getAttribute('data-rank'), el.querySelector('[data-field="rank"]')!.textContent]).sort()
  );
  assert.deepEqual(ranks, [['0', 'rank 0/2'], ['1', 'rank 1/2']]);
  assert.equal(await page.panel.locator('.tsp-EngineRow:not([data-rank]) [data-field="rank"]:visible').count(), 0, 'local engines show no rank');
  await page.screenshot('dashboard-views-5-ranks-in-sidebar');

  const mpiEngine = (await page.panel.locator('.tsp-EngineRow[data-rank="1"]').getAttribute('data-engine-id'))!;
  await showDashboard();
  const log = section('engine-log');
  await log.locator('select').selectOption(mpiEngine);
  await page.page.waitForFunction(
    id => {
      const el = document.querySelector('.tsp-Dashboard [data-section="engine-log"]');
      return el?.getAttribute('data-engine-id') === id && el.getAttribute('data-state') === 'loaded';
    },
    mpiEngine,
    { timeout: 20_000 }
  );
  assert.match(await log.locator('.tsp-EngineLog-source').innerText(), /-mpi\.log \(shared by all engines of this mpi launch\)$/);
  await section('resources').locator(`.tsp-Resources-row[data-engine-id="${mpiEngine}"] .tsp-Resources-label`, { hasText: `engine ${mpiEngine} · rank 1` }).waitFor({ timeout: 20_000 });
});

test('4. controller lost: Reconnect waits for the profile\'s controller to be back and connects to it', async () => {
  const before = await dashboard().locator('[data-field="address"]').innerText();
  tspcluster('stop');
  await page.panel.locator('.tsp-Notice[data-view="controller-lost"]').waitFor({ timeout: 30_000 });
  await dashboard().locator('button[data-action="reconnect"]:visible').waitFor({ timeout: 10_000 });
  const reconnect = page.panel.locator('.tsp-Notice button[data-action="reconnect"]');
  await reconnect.click();
  // Nothing runs in the profile yet: it waits (and says so) rather than failing.
  await page.panel.locator('.tsp-Action[data-action="reconnect"][data-outcome="pending"]').waitFor();
  assert.match(await reconnect.innerText(), /Waiting for the controller of default/);
  await page.screenshot('dashboard-views-4a-reconnect-waiting');
  startDaemonCluster({ TSPARALLEL_DIR: lab.tsparallelDir }, 1);
  await page.panel.locator('.tsp-Action[data-action="reconnect"][data-outcome="ok"]').waitFor({ timeout: 90_000 });
  await page.panel.locator('.tsp-EngineRow[data-state="idle"]').first().waitFor({ timeout: 30_000 });
  assert.match(await page.panel.locator('.tsp-Action[data-action="reconnect"]').last().innerText(), /reconnected to the controller of profile default at tcp:\/\/127\.0\.0\.1:\d+ \(\d engines? so far\)/);
  await showDashboard();
  await page.page.locator('.tsp-Dashboard[data-view="cluster"]').last().waitFor({ timeout: 30_000 });
  assert.match(await dashboard().locator('[data-field="address"]').innerText(), /^tcp:\/\//);
  assert.notEqual(before, '–');
  await page.screenshot('dashboard-views-4b-reconnected');
  // The kernel's %px uses the new client.
  const id = Number(await page.panel.locator('.tsp-EngineRow[data-state="idle"]').first().getAttribute('data-engine-id'));
  await page.activateNotebook('views.ipynb');
  assert.match(await page.runCellToEnd('%px tspengine.id * 10 + 7', 60_000), new RegExp(`Out\\[${id}:\\d*\\]: ${id * 10 + 7}`));
  assert.deepEqual(page.pageErrors, []);
});
