/**
 * The panel's model logic that needs no browser: what it keeps of the task stream, which action
 * outcomes it keeps, and which kernel messages it accepts. Runs on the built labextension/lib.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActionLog } from '../../labextension/lib/model/action-log.js';
import { parseKernelMessage } from '../../labextension/lib/model/comm-messages.js';
import { summarize } from '../../labextension/lib/model/summary.js';
import { TaskHistory } from '../../labextension/lib/model/task-history.js';

const task = (msgId: string, engineId: number, completed: number) => ({
  msgId,
  engineId,
  kind: 'apply' as const,
  status: 'ok' as const,
  started: completed - 10,
  completed
});

test('the task history ignores a task it already has and drops the oldest beyond its capacity', () => {
  const history = new TaskHistory(3);
  assert.equal(history.add([task('a', 0, 1), task('b', 0, 2)]), 2);
  assert.equal(history.add([task('a', 0, 1)]), 0, 'same task on the same engine');
  assert.equal(history.add([task('a', 1, 3)]), 1, 'a direct task has one id per engine');
  history.add([task('c', 0, 4)]);
  assert.deepEqual(history.tasks.map(t => `${t.msgId}@${t.engineId}`), ['b@0', 'a@1', 'c@0']);
  assert.equal(history.total, 4);
  assert.equal(history.add([task('a', 0, 1)]), 1, 'a dropped task is new again');
});

test('the action log scrolls settled outcomes away but never an action still waiting', () => {
  const log = new ActionLog(2);
  log.begin('1', { action: 'add_engines', n: 1 }, 0);
  log.begin('2', { action: 'stop_cluster' }, 0);
  log.begin('3', { action: 'interrupt_engine', engineId: 0 }, 0);
  assert.deepEqual(log.entries.map(e => e.id), ['1', '2', '3'], 'all pending: none dropped');
  assert.ok(log.settle('2', false, 'no such cluster'));
  log.begin('4', { action: 'start', n: 2 }, 0);
  assert.deepEqual(log.entries.map(e => e.id), ['1', '3', '4']);
  assert.equal(log.settle('2', true, 'late'), false, 'a dropped or settled action is not settled twice');
  assert.equal(log.entries.find(e => e.id === '1')!.label, 'Add 1 engine');
});

test('kernel messages of the wrong shape are dropped, not half-applied', () => {
  assert.equal(parseKernelMessage(null), null);
  assert.equal(parseKernelMessage({ type: 'snapshot', snapshot: { engines: 'none' } }), null);
  assert.equal(parseKernelMessage({ type: 'action_result', id: 7, ok: true }), null);
  assert.equal(parseKernelMessage({ type: 'rm -rf' }), null);
  assert.deepEqual(parseKernelMessage({ type: 'snapshot', snapshot: null, profile: 'p' }), { type: 'snapshot', snapshot: null, profile: 'p' });
  const calls = parseKernelMessage({ type: 'calls', calls: [{ id: 1, kind: 'map', total: 4, done: 2, failed: 1, submitted: 0 }, { id: '2', kind: 'map' }] });
  assert.deepEqual(calls, { type: 'calls', calls: [{ id: 1, kind: 'map', total: 4, done: 2, failed: 1, submitted: 0 }] }, 'the malformed call is left out');
  assert.equal(parseKernelMessage({ type: 'calls', calls: 'all' }), null);
  const stream = parseKernelMessage({ type: 'task_stream', tasks: [task('a', 0, 1), { msgId: 'b' }] });
  assert.equal(stream?.type === 'task_stream' && stream.tasks.length, 1, 'the malformed task is left out');
});

test('the header counts live engines as registered, and queued includes unassigned tasks', () => {
  const engine = (id: number, state: 'idle' | 'busy' | 'dead' | 'stopped') => ({
    id, hostname: 'h', pid: id, state, queue: 0, completed: 0, failed: 0, cpu: 0, rss: 0, lastHeartbeat: 0
  });
  const summary = summarize({
    profile: 'default',
    controller: { url: 'tcp://127.0.0.1:1', pid: 1, hostname: 'h', started: '', scheme: 'leastload', hwm: 0 },
    engines: [engine(0, 'idle'), engine(1, 'busy'), engine(2, 'dead'), engine(3, 'stopped')],
    tasks: { unassigned: 2, queued: 3, running: 1, done: 10, failed: 1, perSecond: 4 },
    time: 0
  });
  assert.deepEqual(
    { registered: summary.registered, busy: summary.busy, dead: summary.dead, queued: summary.queued },
    { registered: 2, busy: 1, dead: 1, queued: 5 }
  );
  assert.equal(summary.done, 9, 'the controller counts the failed task as done; the header does not');
});
