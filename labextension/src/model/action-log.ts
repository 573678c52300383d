import type { ActionRequest } from './comm-messages.js';

export type ActionOutcome = 'pending' | 'ok' | 'failed';

export interface ActionEntry {
  id: string;
  request: ActionRequest;
  /** What the user asked for, in words: "Add 2 engines". */
  label: string;
  outcome: ActionOutcome;
  /** The kernel's answer, or why there was none. */
  message: string;
  started: number;
}

export function describeAction(request: ActionRequest): string {
  const engines = (n: number | undefined) => (n === undefined ? 'engines' : n === 1 ? '1 engine' : `${n} engines`);
  switch (request.action) {
    case 'start':
      return request.n === undefined ? 'Start a cluster' : `Start a cluster with ${engines(request.n)}`;
    case 'connect':
      return `Connect to profile ${request.profile ?? 'default'}`;
    case 'reconnect':
      return `Reconnect to profile ${request.profile ?? 'default'}`;
    case 'add_engines':
      return `Add ${engines(request.n ?? 1)}`;
    case 'stop_engine':
      return `Stop engine ${request.engineId}`;
    case 'interrupt_engine':
      return `Interrupt engine ${request.engineId}`;
    case 'restart_engine':
      return `Restart engine ${request.engineId}`;
    case 'stop_cluster':
      return 'Stop the cluster';
  }
}

/** The most recent actions and their outcomes, newest last; older ones scroll away. */
export class ActionLog {
  private _entries: ActionEntry[] = [];

  constructor(private readonly _capacity = 6) {}

  get entries(): readonly ActionEntry[] {
    return this._entries;
  }

  get pending(): ActionEntry[] {
    return this._entries.filter(e => e.outcome === 'pending');
  }

  begin(id: string, request: ActionRequest, now: number): ActionEntry {
    const entry: ActionEntry = { id, request, label: describeAction(request), outcome: 'pending', message: '', started: now };
    this._entries.push(entry);
    // Old outcomes scroll away; an action still waiting for its answer never does.
    while (this._entries.length > this._capacity) {
      const oldestSettled = this._entries.findIndex(e => e.outcome !== 'pending');
      if (oldestSettled < 0) break;
      this._entries.splice(oldestSettled, 1);
    }
    return entry;
  }

  /** Returns false when the id is unknown (already settled, or never ours). */
  settle(id: string, ok: boolean, message: string): boolean {
    const entry = this._entries.find(e => e.id === id && e.outcome === 'pending');
    if (!entry) return false;
    entry.outcome = ok ? 'ok' : 'failed';
    entry.message = message;
    return true;
  }
}
