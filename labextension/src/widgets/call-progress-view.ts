import { Widget } from '@lumino/widgets';
import type { CallProgress } from '../model/comm-messages.js';
import type { StatusModel } from '../model/status-model.js';
import { h, setAttr, setText } from './dom.js';

function callName(call: CallProgress): string {
  return call.label ? `${call.kind} "${call.label}"` : call.kind;
}

/** One progress bar per call the notebook's kernel made (done / failed / running / queued), newest first, like Dask's progress pane. */
export class CallProgressView extends Widget {
  private readonly _calls = h('div', { class: 'tsp-Dashboard-calls' });
  private readonly _rows = new Map<number, HTMLElement>();

  constructor(private readonly _model: StatusModel) {
    super();
    this.addClass('tsp-CallProgress');
    this.node.append(h('h3', {}, 'Progress per call'), this._calls);
    _model.changed.connect(this.update, this);
    this.update();
  }

  override dispose(): void {
    this._model.changed.disconnect(this.update, this);
    super.dispose();
  }

  protected override onUpdateRequest(): void {
    const calls = this._model.calls;
    const shown = new Set<number>();
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
