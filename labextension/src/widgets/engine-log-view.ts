import { Widget } from '@lumino/widgets';
import type { EngineLog, StatusModel } from '../model/status-model.js';
import { h, setText } from './dom.js';

/**
 * An engine's recent log lines (at most 200, as the kernel reads them from the log its launcher
 * recorded), fetched when an engine is chosen or on Refresh: nothing is polled. Where no log can be read
 * (a cluster started on another machine, engines in a batch job) it says why.
 */
export class EngineLogView extends Widget {
  private readonly _select = h('select', { class: 'tsp-EngineLog-engine', 'aria-label': 'Engine' });
  private readonly _refresh = h('button', { type: 'button', class: 'jp-Button jp-mod-styled', 'data-action': 'refresh-log' }, 'Refresh');
  private readonly _source = h('div', { class: 'tsp-EngineLog-source' });
  private readonly _lines = h('pre', { class: 'tsp-EngineLog-lines' });
  private _engines = '';
  private _request = 0;

  constructor(
    private readonly _model: StatusModel,
    private _engineId: number | null = null
  ) {
    super();
    this.addClass('tsp-EngineLog');
    this.node.append(h('h3', {}, 'Engine log'), h('div', { class: 'tsp-EngineLog-bar' }, h('label', {}, 'Engine ', this._select), this._refresh), this._source, this._lines);
    this._select.addEventListener('change', () => {
      this._engineId = this._select.value === '' ? null : Number(this._select.value);
      void this.load();
    });
    this._refresh.addEventListener('click', () => void this.load());
    _model.changed.connect(this.update, this);
    this.update();
    if (this._engineId !== null) void this.load();
  }

  get engineId(): number | null {
    return this._engineId;
  }

  override dispose(): void {
    this._model.changed.disconnect(this.update, this);
    super.dispose();
  }

  /** Asks the kernel for the chosen engine's lines and shows them (a later request wins over an earlier one). */
  async load(): Promise<void> {
    const engineId = this._engineId;
    if (engineId === null) return;
    const request = ++this._request;
    this.node.dataset.state = 'loading';
    let log: EngineLog | null = null;
    let failure = '';
    try {
      log = await this._model.requestEngineLog(engineId);
    } catch (err) {
      failure = (err as Error).message;
    }
    if (request !== this._request || this.isDisposed) return;
    this.node.dataset.engineId = String(engineId);
    if (!log) {
      this.node.dataset.state = 'failed';
      setText(this._source, `Cannot read the log of engine ${engineId}: ${failure}`);
      setText(this._lines, '');
      return;
    }
    this.node.dataset.state = log.lines.length ? 'loaded' : 'empty';
    const from = log.source ? `Last ${log.lines.length} line${log.lines.length === 1 ? '' : 's'} of ${log.source}` : `No log of engine ${engineId}`;
    setText(this._source, log.note ? `${from} (${log.note})` : from);
    setText(this._lines, log.lines.join('\n'));
    this._lines.scrollTop = this._lines.scrollHeight;
  }

  /** The engine list follows the cluster (rebuilt only when it changes, so an open list is not reset). */
  protected override onUpdateRequest(): void {
    const view = this._model.view;
    const engines = view.kind === 'cluster' ? [...view.snapshot.engines].sort((a, b) => a.id - b.id) : [];
    const key = engines.map(e => `${e.id}:${e.state}:${e.metadata?.rank ?? ''}`).join(',');
    if (key === this._engines) return;
    this._engines = key;
    const options = engines.map(e => {
      const rank = e.metadata?.rank !== undefined ? ` · rank ${e.metadata.rank}` : '';
      const option = h('option', { value: String(e.id) }, `#${e.id}${rank} (${e.state}, ${e.hostname})`);
      return option;
    });
    this._select.replaceChildren(h('option', { value: '' }, engines.length ? 'choose…' : 'no engines'), ...options);
    this._select.value = this._engineId !== null && engines.some(e => e.id === this._engineId) ? String(this._engineId) : '';
    this._refresh.disabled = engines.length === 0;
  }
}
