/**
 * The dashboard's model logic that needs no browser: the zoomable task stream's time window, the
 * bounded CPU/memory history, and the engine-log reply the panel accepts. Runs on the built labextension/lib.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKernelMessage } from '../../labextension/lib/model/comm-messages.js';
import { ResourceHistory } from '../../labextension/lib/model/resource-history.js';
import { MAX_SPAN_MS, MIN_SPAN_MS, TimeWindow } from '../../labextension/lib/model/time-window.js';

test('the time window zooms around an anchor, pans into the past (paused), and goes live when panned past now', () => {
  const w = new TimeWindow(30_000);
  const now = 1_000_000;
  assert.equal(w.end(now), now);
  w.zoom(0.5, now); // around the right edge: stays live
  assert.deepEqual([w.span, w.live], [15_000, true]);
  w.pan(-10_000, now);
  assert.deepEqual([w.span, w.live, w.end(now + 5000)], [15_000, false, now - 10_000], 'a paused window does not follow the clock');
  // Zoom in around the middle: the middle stays put.
  const middle = w.end(now) - w.span / 2;
  w.zoom(0.5, now, 0.5);
  assert.equal(w.end(now) - w.span / 2, middle);
  w.pan(60_000, now);
  assert.equal(w.live, true, 'panned past now: live again');
  for (let i = 0; i < 30; i++) w.zoom(0.5, now);
  assert.equal(w.span, MIN_SPAN_MS);
  for (let i = 0; i < 30; i++) w.zoom(2, now);
  assert.equal(w.span, MAX_SPAN_MS);
  w.reset();
  assert.deepEqual([w.span, w.live], [30_000, true]);
});

const snapshot = (time: number, engines: { id: number; state?: string; cpu?: number; rss?: number; rank?: number }[], controller = true) => ({
  profile: 'p',
  controller: { url: 'tcp://x', pid: 1, hostname: 'h', started: '', scheme: 'leastload', hwm: 0, ...(controller ? { cpu: 3, rss: 50e6 } : {}) },
  engines: engines.map(e => ({
    id: e.id,
    hostname: 'h',
    pid: 100 + e.id,
    state: (e.state ?? 'idle') as 'idle',
    queue: 0,
    completed: 0,
    failed: 0,
    cpu: e.cpu ?? 1,
    rss: e.rss ?? 40e6,
    lastHeartbeat: time,
    ...(e.rank !== undefined ? { metadata: { rank: e.rank } } : {})
  })),
  tasks: { unassigned: 0, queued: 0, running: 0, done: 0, failed: 0, perSecond: 0 },
  time
});

test('the resource history keeps a series per live engine and the controller, bounded in time and points', () => {
  const history = new ResourceHistory(10_000, 5);
  assert.ok(history.add(snapshot(1000, [{ id: 0, rank: 0 }, { id: 1, rank: 1 }])));
  assert.equal(history.add(snapshot(1000, [{ id: 0 }])), false, 'the same snapshot twice adds nothing');
  for (let t = 2000; t <= 9000; t += 1000) history.add(snapshot(t, [{ id: 0, cpu: t / 100 }, { id: 1 }]));
  const series = history.series;
  assert.deepEqual(series.map(s => [s.key, s.engineId, s.rank]), [['controller', null, undefined], ['engine-0', 0, 0], ['engine-1', 1, 1]]);
  assert.equal(series[1]!.points.length, 5, 'at most maxPoints per series');
  assert.equal(series[1]!.points.at(-1)!.cpu, 90);
  history.add(snapshot(30_000, [{ id: 0 }, { id: 1, state: 'stopped' }]));
  assert.deepEqual(history.series.map(s => s.key), ['controller', 'engine-0'], 'a stopped engine loses its series');
  assert.equal(history.series[1]!.points.length, 1, 'points older than the span are dropped');
  history.add(snapshot(31_000, [{ id: 0 }], false));
  assert.deepEqual(history.series.map(s => s.key), ['engine-0'], 'no controller readings (an older controller): no controller series');
});

test('an engine_log reply is accepted with its lines bounded; a malformed one is dropped', () => {
  const lines = Array.from({ length: 500 }, (_, i) => `line ${i}`);
  const message = parseKernelMessage({ type: 'engine_log', id: 'a', engineId: 2, source: '/x.log', lines, note: '' });
  assert.ok(message && message.type === 'engine_log');
  assert.equal(message.lines.length, 200);
  assert.equal(message.lines.at(-1), 'line 499');
  assert.equal(parseKernelMessage({ type: 'engine_log', id: 'a', engineId: '2', lines: [] }), null);
  assert.equal(parseKernelMessage({ type: 'engine_log', id: 'a', engineId: 2 }), null);
});
