import { Widget } from '@lumino/widgets';
import type { CallProgress } from '../model/comm-messages.js';
import type { StatusModel } from '../model/status-model.js';
import { h, setAttr, setText } from './dom.js';
import { enginesIcon } from './icon.js';
import { formatDuration, formatRate } from './format.js';

let opened = 0;

function callName(call: CallProgress): string {
  return call.label ? `${call.kind} "${call.label}"` : call.kind;
}

/**
 * The dashboard in the main area: the controller (address, uptime, throughput) and one progress bar per
 * call the notebook's kernel made (done / failed / running / queued). Several can be open; each draws the
 * same StatusModel, and redraws only when it changes.
 */
export class Dashboard extends Widget {
  private readonly _controller = new Map<string, HTMLElement>();
  private readonly _state: HTMLElement;
  private readonly _calls: HTMLElement;
  private readonly _rows = new Map<number, HTMLElement>();

  constructor(private readonly _model: StatusModel) {
    super();
    this.id = `tsparallel-dashboard-${++opened}`;
    this.addClass('tsp-Dashboard');
    this.title.label = 'Parallel dashboard';
    this.title.icon = enginesIcon;
    this.title.closable = true;
    const field = (name: string) => {
      const el = h('span', { class: 'tsp-figure', 'data-field': name });
      this._controller.set(name, el);
      return el;
    };
    this._state = h('div', { class: 'tsp-Dashboard-state' });
    this._calls = h('div', { class: 'tsp-Dashboard-calls' });
    this.node.append(
      h('h2', {}, 'Parallel dashboard'),
      this._state,
      h(
        'section',
        { class: 'tsp-Dashboard-controller' },
        h('h3', {}, 'Controller'),
        h('div', {}, h('span', { class: 'tsp-label' }, 'Address '), field('address')),
        h('div', {}, h('span', { class: 'tsp-label' }, 'Up '), field('uptime'), h('span', { class: 'tsp-label' }, ' · Throughput '), field('throughput'), ' tasks/s')
      ),
      h('section', {}, h('h3', {}, 'Progress per call'), this._calls)
    );
    _model.changed.connect(this._redraw, this);
    this._redraw();
  }

  override dispose(): void {
    this._model.changed.disconnect(this._redraw, this);
    super.dispose();
  }

  private _redraw(): void {
    const view = this._model.view;
    this.node.dataset.view = view.kind;
    const where = this._model.notebook?.path ?? 'no notebook';
    setText(this._state, view.kind === 'cluster' ? `Cluster of ${where}` : view.kind === 'controller-lost' ? `Controller lost: ${view.reason}` : `${where}: no cluster`);
    const snapshot = view.kind === 'cluster' ? view.snapshot : null;
    const started = snapshot ? Date.parse(snapshot.controller.started) : NaN;
    setText(this._controller.get('address')!, snapshot?.controller.url ?? '–');
    // Uptime as of the snapshot: it moves when the controller says something, not on a timer.
    setText(this._controller.get('uptime')!, snapshot && Number.isFinite(started) ? formatDuration(snapshot.time - started) : '–');
    setText(this._controller.get('throughput')!, snapshot ? formatRate(snapshot.tasks.perSecond) : '–');
    this._drawCalls(this._model.calls);
  }

  private _drawCalls(calls: readonly CallProgress[]): void {
    const shown = new Set<number>();
    // Newest first.
    for (const call of [...calls].reverse()) {
      shown.add(call.id);
      let row = this._rows.get(call.id);
      if (!row) {
        row = h(
          'div',
          { class: 'tsp-CallRow', 'data-call-id': String(call.id) },
          h('span', { class: 'tsp-CallRow-name' }),
          h('span', { class: 'tsp-CallBar' }, h('span', { class: 'tsp-CallBar-done' }), h('span', { class: 'tsp-CallBar-failed' }), h('span', { class: 'tsp-CallBar-running' })),
          h('span', { class: 'tsp-CallRow-counts' })
        );
        this._rows.set(call.id, row);
      }
      this._calls.append(row); // moves it into newest-first order
      const ok = call.done - call.failed;
      const running = Math.min(call.running ?? 0, call.total - call.done);
      const queued = call.total - call.done - running;
      const width = (n: number) => `width:${call.total ? (100 * n) / call.total : 0}%`;
      setText(row.querySelector('.tsp-CallRow-name')!, `#${call.id} ${callName(call)}`);
      setAttr(row.querySelector('.tsp-CallBar-done')!, 'style', width(ok));
      setAttr(row.querySelector('.tsp-CallBar-failed')!, 'style', width(call.failed));
      setAttr(row.querySelector('.tsp-CallBar-running')!, 'style', width(running));
      const parts = [`${call.done}/${call.total} done`, call.failed ? `${call.failed} failed` : '', running ? `${running} running` : '', queued ? `${queued} queued` : ''];
      setText(row.querySelector('.tsp-CallRow-counts')!, parts.filter(Boolean).join(' · '));
      row.dataset.running = String(running);
      row.dataset.queued = String(queued);
      row.dataset.done = String(call.done);
      row.dataset.failed = String(call.failed);
      row.dataset.total = String(call.total);
    }
    for (const [id, row] of this._rows) {
      if (shown.has(id)) continue;
      row.remove();
      this._rows.delete(id);
    }
  }
}
