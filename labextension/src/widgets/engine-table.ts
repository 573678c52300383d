import { closeIcon, listIcon, refreshIcon, stopIcon, type LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import type { ActionName, EngineStatus } from '../model/comm-messages.js';
import type { StatusModel } from '../model/status-model.js';
import { controllerNow, currentTaskAge, heartbeatAge, type EngineDisplayState } from '../model/summary.js';
import { h, setAttr, setText } from './dom.js';
import { formatBytes, formatDuration, formatPercent } from './format.js';

interface Row {
  el: HTMLElement;
  cells: Record<'id' | 'rank' | 'state' | 'task' | 'where' | 'counts' | 'resources' | 'heartbeat', HTMLElement>;
  buttons: HTMLButtonElement[];
}

const ENGINE_ACTIONS: { action: ActionName; label: string; icon: LabIcon }[] = [
  { action: 'interrupt_engine', label: 'Interrupt', icon: stopIcon },
  { action: 'restart_engine', label: 'Restart', icon: refreshIcon },
  { action: 'stop_engine', label: 'Stop', icon: closeIcon }
];

/** Actions that bring engines up; while one waits, its engines show as "starting" rows. */
function startingCount(model: StatusModel): number {
  let n = 0;
  for (const entry of model.pendingActions) {
    const { action } = entry.request;
    if (action === 'add_engines' || action === 'start') n += entry.request.n ?? 1;
    if (action === 'restart_engine') n += 1;
  }
  return n;
}

/** "rank 2/4" for an engine started under MPI or Slurm (its metadata says), "" otherwise. */
export function rankLabel(engine: EngineStatus): string {
  const rank = engine.metadata?.rank;
  if (rank === undefined) return '';
  const size = engine.metadata?.size;
  return size !== undefined ? `rank ${rank}/${size}` : `rank ${rank}`;
}

/**
 * One row per engine: what it does now (state, task and for how long), then its host and pid, queue,
 * tasks done and failed, CPU, RSS and heartbeat age, and buttons to act on it. Two lines per engine so
 * that it reads in a narrow sidebar.
 */
export class EngineTable extends Widget {
  private readonly _body: HTMLElement;
  /** Stopped engines, collapsed under one line: they did what they were told and only take room. */
  private readonly _stopped: HTMLDetailsElement;
  private readonly _stoppedSummary = h('summary');
  private readonly _stoppedBody = h('div', { class: 'tsp-EngineList', role: 'list', 'aria-label': 'Stopped engines' });
  private readonly _rows = new Map<number, Row>();
  private readonly _starting: HTMLElement[] = [];

  /** `showLog`: what a row's log button does (no button without it). */
  constructor(
    private readonly _model: StatusModel,
    private readonly _showLog?: (engineId: number) => void
  ) {
    super();
    this.addClass('tsp-EngineTable');
    this._body = h('div', { class: 'tsp-EngineList', role: 'list', 'aria-label': 'Engines' });
    this._stopped = h('details', { class: 'tsp-StoppedEngines' }, this._stoppedSummary, this._stoppedBody);
    this.node.append(h('div', { class: 'tsp-SectionTitle' }, 'Engines'), this._body, this._stopped);
  }

  protected override onUpdateRequest(): void {
    const view = this._model.view;
    if (view.kind !== 'cluster') return;
    const now = controllerNow(view.snapshot, view.receivedAt, Date.now());
    const engines = [...view.snapshot.engines].sort((a, b) => a.id - b.id);
    const present = new Set(engines.map(e => e.id));
    for (const [id, row] of this._rows) {
      if (!present.has(id)) {
        row.el.remove();
        this._rows.delete(id);
      }
    }
    const stopped = engines.filter(e => e.state === 'stopped');
    this._place(engines.filter(e => e.state !== 'stopped'), this._body, now);
    this._place(stopped, this._stoppedBody, now);
    this._stopped.hidden = stopped.length === 0;
    setText(this._stoppedSummary, `${stopped.length} stopped engine${stopped.length === 1 ? '' : 's'}`);
    this._syncStartingRows(startingCount(this._model));
  }

  private _place(engines: EngineStatus[], list: HTMLElement, now: number): void {
    let previous: Element | null = null;
    for (const engine of engines) {
      const row = this._rows.get(engine.id) ?? this._createRow(engine.id);
      this._fill(row, engine, now);
      // Move a row only when out of place: moving a node under the pointer would swallow a click.
      const expectedNext: Element | null = previous ? previous.nextElementSibling : list.firstElementChild;
      if (expectedNext !== row.el) list.insertBefore(row.el, expectedNext);
      previous = row.el;
    }
  }

  private _createRow(id: number): Row {
    const span = (name: string) => h('span', { 'data-field': name });
    const cells = {
      id: span('id'),
      rank: span('rank'),
      state: span('state'),
      task: span('task'),
      where: span('where'),
      counts: span('counts'),
      resources: span('resources'),
      heartbeat: span('heartbeat')
    };
    const buttons = ENGINE_ACTIONS.map(({ action, label, icon }) => {
      const button = h('button', { class: 'tsp-IconButton', 'data-action': action, title: `${label} engine ${id}`, 'aria-label': `${label} engine ${id}` });
      icon.element({ container: button, tag: 'span', height: '14px', width: '14px' });
      button.addEventListener('click', () => void this._model.runAction({ action, engineId: id }));
      return button;
    });
    const showLog = this._showLog;
    const log = showLog && h('button', { class: 'tsp-IconButton', 'data-action': 'show_log', title: `Show the log of engine ${id}`, 'aria-label': `Show the log of engine ${id}` });
    if (log) {
      listIcon.element({ container: log, tag: 'span', height: '14px', width: '14px' });
      log.addEventListener('click', () => showLog(id));
    }
    const el = h(
      'div',
      { class: 'tsp-EngineRow', role: 'listitem', 'data-engine-id': String(id) },
      h('div', { class: 'tsp-EngineRow-main' }, cells.id, cells.rank, cells.state, cells.task, h('span', { class: 'tsp-EngineRow-actions' }, log, ...buttons)),
      h('div', { class: 'tsp-EngineRow-figures' }, cells.where, cells.counts, cells.resources, cells.heartbeat)
    );
    const row: Row = { el, cells, buttons };
    this._rows.set(id, row);
    return row;
  }

  private _fill(row: Row, engine: EngineStatus, now: number): void {
    const state: EngineDisplayState = engine.state;
    setAttr(row.el, 'data-state', state);
    setAttr(row.el, 'data-pid', String(engine.pid));
    setText(row.cells.id, `#${engine.id}`);
    const rank = rankLabel(engine);
    setText(row.cells.rank, rank);
    row.cells.rank.hidden = !rank;
    setAttr(row.cells.rank, 'title', rank ? `${engine.metadata?.launcher ?? 'MPI/Slurm'} task ${rank}` : '');
    if (rank) setAttr(row.el, 'data-rank', String(engine.metadata?.rank));
    setText(row.cells.state, state);
    setAttr(row.cells.state, 'class', `tsp-State tsp-State-${state}`);
    const age = currentTaskAge(engine, now);
    setText(row.cells.task, engine.current && age !== null ? `${engine.current.kind} ${formatDuration(age)}` : '');
    setText(row.cells.where, `${engine.hostname}:${engine.pid}`);
    setAttr(row.cells.where, 'title', `host ${engine.hostname}, pid ${engine.pid}`);
    // The controller's `completed` counts failed tasks too: "done" here is the ones that succeeded.
    setText(row.cells.counts, `queue ${engine.queue} · done ${Math.max(0, engine.completed - engine.failed)} · failed ${engine.failed}`);
    row.cells.counts.classList.toggle('tsp-mod-bad', engine.failed > 0);
    const gone = state === 'dead' || state === 'stopped';
    setText(row.cells.resources, gone ? '' : `CPU ${formatPercent(engine.cpu)} · ${formatBytes(engine.rss)}`);
    // A gone engine's heartbeat age would only grow: say what happened instead.
    setText(row.cells.heartbeat, state === 'dead' ? '♥ lost' : state === 'stopped' ? '' : `♥ ${formatDuration(heartbeatAge(engine, now))} ago`);
    setAttr(row.cells.heartbeat, 'title', gone ? '' : 'time since the last heartbeat');
    for (const button of row.buttons) {
      // A dead or stopped engine can still be replaced (restart); it cannot be interrupted or stopped.
      button.disabled = gone && button.dataset.action !== 'restart_engine';
    }
  }

  private _syncStartingRows(count: number): void {
    while (this._starting.length > count) this._starting.pop()!.remove();
    while (this._starting.length < count) {
      const el = h(
        'div',
        { class: 'tsp-EngineRow tsp-mod-starting', role: 'listitem', 'data-state': 'starting' },
        h('div', { class: 'tsp-EngineRow-main' }, h('span', {}, '#…'), h('span', { class: 'tsp-State tsp-State-starting' }, 'starting')),
        h('div', { class: 'tsp-EngineRow-figures' }, 'waiting for the engine to register')
      );
      this._starting.push(el);
    }
    // Starting rows come after the registered engines.
    const children = this._body.children;
    const inPlace = this._starting.every((el, i) => children[children.length - this._starting.length + i] === el);
    if (!inPlace) this._body.append(...this._starting);
  }
}
