import type { ISessionContext } from '@jupyterlab/apputils';
import { PromiseDelegate, UUID } from '@lumino/coreutils';
import { Signal, type ISignal } from '@lumino/signaling';
import { ActionLog, type ActionEntry } from './action-log.js';
import type { ActionRequest, CallProgress, ClusterSnapshot, EngineLogMessage, KernelMessage, RunningCluster } from './comm-messages.js';
import { ResourceHistory } from './resource-history.js';
import { KernelStatusChannel } from './status-channel.js';
import { TaskHistory } from './task-history.js';

/** What the panel has to show for one notebook, in the order a user meets the cases. */
export type PanelView =
  | { kind: 'no-notebook' }
  | { kind: 'no-kernel' }
  | { kind: 'connecting' }
  | { kind: 'not-tsparallel'; kernelName: string }
  | { kind: 'no-cluster'; profile: string; running: readonly RunningCluster[] }
  | { kind: 'controller-lost'; profile: string; reason: string; running: readonly RunningCluster[] }
  | { kind: 'cluster'; snapshot: ClusterSnapshot; receivedAt: number };

/** Cluster start-up can take a while (processes, registration); the rest answer quickly. */
const ACTION_TIMEOUT_MS: Record<ActionRequest['action'], number> = {
  start: 120_000,
  connect: 30_000,
  // The kernel waits up to 90 s for the profile's controller to be back.
  reconnect: 100_000,
  add_engines: 60_000,
  restart_engine: 60_000,
  stop_engine: 30_000,
  interrupt_engine: 30_000,
  stop_cluster: 60_000
};

/** An engine's recent log lines as the kernel read them (see EngineLogMessage). */
export type EngineLog = Omit<EngineLogMessage, 'type' | 'id'>;

const LOG_TIMEOUT_MS = 15_000;

/**
 * One notebook's kernel and its cluster: the latest snapshot, the recent task stream, and the actions
 * asked of this kernel with their outcomes. Kept while the notebook is open, so that switching back to
 * it shows its cluster at once and an action still running there keeps its outcome.
 */
export class NotebookStatus {
  private readonly _changed = new Signal<this, void>(this);
  private readonly _channel: KernelStatusChannel;
  private _snapshot: ClusterSnapshot | null = null;
  private _profile = '';
  private _running: readonly RunningCluster[] = [];
  private _lost: { reason: string } | null = null;
  private _heardSnapshot = false;
  private _receivedAt = 0;
  private _calls: readonly CallProgress[] = [];
  private readonly _tasks = new TaskHistory();
  private readonly _resources = new ResourceHistory();
  private readonly _logRequests = new Map<string, { done: PromiseDelegate<EngineLog>; timer: ReturnType<typeof setTimeout> }>();
  private readonly _actions = new ActionLog();
  private readonly _waiting = new Map<string, { done: PromiseDelegate<ActionEntry>; timer: ReturnType<typeof setTimeout> }>();
  private _disposed = false;

  constructor(sessionContext: ISessionContext) {
    this._channel = new KernelStatusChannel(sessionContext);
    this._channel.stateChanged.connect(this._onChannelState, this);
    this._channel.received.connect(this._onMessage, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The kernel's recent calls with their progress, newest last. */
  get calls(): readonly CallProgress[] {
    return this._calls;
  }

  get tasks(): TaskHistory {
    return this._tasks;
  }

  /** CPU and memory over the last minutes, per engine and for the controller. */
  get resources(): ResourceHistory {
    return this._resources;
  }

  /** Asks the kernel for an engine's recent log lines; rejects when it cannot be asked or does not answer. */
  requestEngineLog(engineId: number, lines?: number): Promise<EngineLog> {
    const id = UUID.uuid4();
    if (!this._channel.send({ type: 'engine_log', id, engineId, ...(lines ? { lines } : {}) })) {
      return Promise.reject(new Error('the notebook kernel is not connected to the panel'));
    }
    const done = new PromiseDelegate<EngineLog>();
    const timer = setTimeout(() => {
      this._logRequests.delete(id);
      done.reject(new Error(`no answer from the kernel within ${LOG_TIMEOUT_MS / 1000} s`));
    }, LOG_TIMEOUT_MS);
    this._logRequests.set(id, { done, timer });
    return done.promise;
  }

  get actions(): readonly ActionEntry[] {
    return this._actions.entries;
  }

  get pendingActions(): ActionEntry[] {
    return this._actions.pending;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  get view(): PanelView {
    const state = this._channel.state;
    if (state === 'no-kernel') return { kind: 'no-kernel' };
    if (state === 'refused') return { kind: 'not-tsparallel', kernelName: this._channel.kernelDisplayName };
    if (!this._heardSnapshot) return { kind: 'connecting' };
    if (this._lost) return { kind: 'controller-lost', profile: this._profile, reason: this._lost.reason, running: this._running };
    if (!this._snapshot) return { kind: 'no-cluster', profile: this._profile, running: this._running };
    return { kind: 'cluster', snapshot: this._snapshot, receivedAt: this._receivedAt };
  }

  /**
   * Asks the kernel to act on the cluster. Resolves with the settled log entry: `ok` with the kernel's
   * message, or `failed` with the kernel's error, or with why the kernel could not be asked or did not answer.
   */
  runAction(request: ActionRequest): Promise<ActionEntry> {
    const id = UUID.uuid4();
    const entry = this._actions.begin(id, request, Date.now());
    if (!this._channel.send({ type: 'action', id, ...request })) {
      this._actions.settle(id, false, 'the notebook kernel is not connected to the panel');
      this._changed.emit();
      return Promise.resolve(entry);
    }
    const done = new PromiseDelegate<ActionEntry>();
    const timeout = ACTION_TIMEOUT_MS[request.action];
    const timer = setTimeout(() => this._settle(id, false, `no answer from the kernel within ${timeout / 1000} s`), timeout);
    this._waiting.set(id, { done, timer });
    this._changed.emit();
    return done.promise;
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._failWaiting('the notebook was closed');
    this._failLogRequests('the notebook was closed');
    this._channel.dispose();
    Signal.clearData(this);
  }

  private _onChannelState(_: KernelStatusChannel, state: string): void {
    if (state !== 'open') {
      // A restarted kernel has a fresh namespace: its cluster (if any) is told afresh when it answers.
      this._heardSnapshot = false;
      this._snapshot = null;
      this._lost = null;
      this._calls = [];
      this._resources.clear();
      this._failWaiting('the kernel connection closed before it answered');
      this._failLogRequests('the kernel connection closed before it answered');
    }
    this._changed.emit();
  }

  private _onMessage(_: KernelStatusChannel, message: KernelMessage): void {
    switch (message.type) {
      case 'snapshot':
        if (this._snapshot && message.snapshot?.controller.url !== this._snapshot.controller.url) {
          this._tasks.clear(); // another cluster (or none): the old one's tasks are not its own
          this._resources.clear();
        }
        if (!message.snapshot) {
          this._tasks.clear();
          this._resources.clear();
        } else this._resources.add(message.snapshot);
        this._snapshot = message.snapshot;
        this._lost = null;
        if (message.profile) this._profile = message.profile;
        if (message.running) this._running = message.running;
        this._heardSnapshot = true;
        this._receivedAt = Date.now();
        break;
      case 'controller_lost':
        // Nothing the lost controller said is live any more: no engines, no lanes, no buttons.
        this._snapshot = null;
        this._tasks.clear();
        this._resources.clear();
        this._lost = { reason: message.reason };
        this._profile = message.profile;
        this._running = message.running;
        this._heardSnapshot = true;
        this._receivedAt = Date.now();
        break;
      case 'task_stream':
        if (!this._tasks.add(message.tasks)) return;
        break;
      case 'calls':
        this._calls = message.calls;
        break;
      case 'action_result':
        this._settle(message.id, message.ok, message.message);
        return;
      case 'engine_log': {
        const request = this._logRequests.get(message.id);
        if (!request) return;
        clearTimeout(request.timer);
        this._logRequests.delete(message.id);
        const { type: _type, id: _id, ...log } = message;
        request.done.resolve(log);
        return;
      }
    }
    this._changed.emit();
  }

  private _settle(id: string, ok: boolean, message: string): void {
    if (!this._actions.settle(id, ok, message)) return;
    const waiting = this._waiting.get(id);
    if (waiting) {
      clearTimeout(waiting.timer);
      this._waiting.delete(id);
      waiting.done.resolve(this._actions.entries.find(e => e.id === id)!);
    }
    this._changed.emit();
  }

  private _failLogRequests(reason: string): void {
    for (const [id, request] of this._logRequests) {
      clearTimeout(request.timer);
      this._logRequests.delete(id);
      request.done.reject(new Error(reason));
    }
  }

  private _failWaiting(reason: string): void {
    for (const id of [...this._waiting.keys()]) this._settle(id, false, reason);
  }
}
