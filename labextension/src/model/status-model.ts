import type { ISessionContext } from '@jupyterlab/apputils';
import { Signal, type ISignal } from '@lumino/signaling';
import type { ActionEntry } from './action-log.js';
import type { ActionRequest, CallProgress } from './comm-messages.js';
import { NotebookStatus, type EngineLog, type PanelView } from './notebook-status.js';
import { ResourceHistory } from './resource-history.js';
import type { TaskHistory } from './task-history.js';

export type { EngineLog, PanelView } from './notebook-status.js';

/** The notebook the model follows: its label and its kernel session. */
export interface FollowedNotebook {
  path: string;
  sessionContext: ISessionContext;
}

const NO_TASKS: Pick<TaskHistory, 'tasks' | 'total'> = { tasks: [], total: 0 };
const NO_RESOURCES = new ResourceHistory();

/**
 * The state behind the "Parallel engines" panel: the status of the followed notebook's cluster, out of
 * one NotebookStatus per open notebook. It knows nothing of the DOM; widgets redraw on `changed`.
 */
export class StatusModel {
  private readonly _changed = new Signal<this, void>(this);
  private readonly _statuses = new Map<ISessionContext, NotebookStatus>();
  private _notebook: FollowedNotebook | null = null;
  private _disposed = false;

  /** Emitted whenever anything shown changes (snapshot, tasks, actions, followed notebook). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get notebook(): FollowedNotebook | null {
    return this._notebook;
  }

  get view(): PanelView {
    return this._current()?.view ?? { kind: 'no-notebook' };
  }

  get tasks(): Pick<TaskHistory, 'tasks' | 'total'> {
    return this._current()?.tasks ?? NO_TASKS;
  }

  /** CPU and memory history of the followed notebook's cluster. */
  get resources(): ResourceHistory {
    return this._current()?.resources ?? NO_RESOURCES;
  }

  get calls(): readonly CallProgress[] {
    return this._current()?.calls ?? [];
  }

  get actions(): readonly ActionEntry[] {
    return this._current()?.actions ?? [];
  }

  get pendingActions(): ActionEntry[] {
    return this._current()?.pendingActions ?? [];
  }

  /** Follows another notebook (or none): its kernel's cluster replaces what was shown. */
  follow(notebook: FollowedNotebook | null): void {
    if (notebook?.sessionContext === this._notebook?.sessionContext && notebook?.path === this._notebook?.path) return;
    this._notebook = notebook;
    if (notebook && !this._statuses.has(notebook.sessionContext)) this._track(notebook.sessionContext);
    this._changed.emit();
  }

  /** Asks the followed notebook's kernel to act on its cluster; see NotebookStatus.runAction. */
  runAction(request: ActionRequest): Promise<ActionEntry> {
    const status = this._current();
    if (!status) return Promise.reject(new Error('no notebook is open'));
    return status.runAction(request);
  }

  /** Asks the followed notebook's kernel for an engine's recent log lines. */
  requestEngineLog(engineId: number, lines?: number): Promise<EngineLog> {
    const status = this._current();
    if (!status) return Promise.reject(new Error('no notebook is open'));
    return status.requestEngineLog(engineId, lines);
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    for (const status of this._statuses.values()) status.dispose();
    this._statuses.clear();
    Signal.clearData(this);
  }

  private _current(): NotebookStatus | undefined {
    return this._notebook ? this._statuses.get(this._notebook.sessionContext) : undefined;
  }

  private _track(sessionContext: ISessionContext): void {
    const status = new NotebookStatus(sessionContext);
    this._statuses.set(sessionContext, status);
    status.changed.connect(() => {
      if (this._notebook?.sessionContext === sessionContext) this._changed.emit();
    });
    sessionContext.disposed.connect(() => {
      status.dispose();
      this._statuses.delete(sessionContext);
      if (this._notebook?.sessionContext === sessionContext) this.follow(null);
    });
  }
}
