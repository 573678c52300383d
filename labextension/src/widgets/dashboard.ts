import { Widget } from '@lumino/widgets';
import type { DashboardSection } from '../dashboard-sections.js';
import type { StatusModel } from '../model/status-model.js';
import { h, setText } from './dom.js';
import { enginesIcon } from './icon.js';
import { formatDuration, formatRate } from './format.js';
import { ModelPanel } from './model-panel.js';
import { ReconnectButton } from './reconnect-button.js';

let opened = 0;

/** The controller at a glance: address, uptime, throughput, and the state ("controller lost", with Reconnect). */
class ControllerSummary extends Widget {
  private readonly _fields = new Map<string, HTMLElement>();
  private readonly _state = h('div', { class: 'tsp-Dashboard-state' });
  private readonly _reconnect: ReconnectButton;

  constructor(private readonly _model: StatusModel) {
    super();
    this._reconnect = new ReconnectButton(_model);
    this.addClass('tsp-Dashboard-summary');
    const field = (name: string) => {
      const el = h('span', { class: 'tsp-figure', 'data-field': name });
      this._fields.set(name, el);
      return el;
    };
    this.node.append(
      h('div', { class: 'tsp-Dashboard-stateLine' }, this._state, this._reconnect.node),
      h(
        'section',
        { class: 'tsp-Dashboard-controller' },
        h('h3', {}, 'Controller'),
        h('div', {}, h('span', { class: 'tsp-label' }, 'Address '), field('address')),
        h('div', {}, h('span', { class: 'tsp-label' }, 'Up '), field('uptime'), h('span', { class: 'tsp-label' }, ' · Throughput '), field('throughput'), ' tasks/s')
      )
    );
  }

  override dispose(): void {
    this._reconnect.dispose();
    super.dispose();
  }

  protected override onUpdateRequest(): void {
    const view = this._model.view;
    const where = this._model.notebook?.path ?? 'no notebook';
    setText(this._state, view.kind === 'cluster' ? `Cluster of ${where}` : view.kind === 'controller-lost' ? `Controller lost: ${view.reason}` : `${where}: no cluster`);
    const snapshot = view.kind === 'cluster' ? view.snapshot : null;
    const started = snapshot ? Date.parse(snapshot.controller.started) : NaN;
    setText(this._fields.get('address')!, snapshot?.controller.url ?? '–');
    // Uptime as of the snapshot: it moves when the controller says something, not on a timer.
    setText(this._fields.get('uptime')!, snapshot && Number.isFinite(started) ? formatDuration(snapshot.time - started) : '–');
    setText(this._fields.get('throughput')!, snapshot ? formatRate(snapshot.tasks.perSecond) : '–');
  }
}

/**
 * The dashboard in the main area: the controller's summary, then the sections the plugins registered
 * (progress per call, task stream, CPU and memory, engine logs). Several can be open; each draws the same
 * StatusModel and redraws only when it changes (the task stream also with the clock, while on screen).
 */
export class Dashboard extends ModelPanel {
  private readonly _summary: ControllerSummary;
  /** Sections that also redraw with the clock (the task stream's running bars), while on screen. */
  private readonly _ticking: Widget[] = [];

  constructor(model: StatusModel, sections: readonly DashboardSection[]) {
    super(model);
    this.id = `tsparallel-dashboard-${++opened}`;
    this.addClass('tsp-Dashboard');
    this.title.label = 'Parallel dashboard';
    this.title.icon = enginesIcon;
    this.title.closable = true;
    const heading = new Widget({ node: h('h2', {}, 'Parallel dashboard') });
    this._summary = new ControllerSummary(model);
    this.addWidget(heading);
    this.addWidget(this._summary);
    for (const section of sections) {
      const widget = section.create(model);
      widget.addClass('tsp-Dashboard-section');
      widget.node.dataset.section = section.id;
      this.addWidget(widget);
      if (section.ticks) this._ticking.push(widget);
    }
    this.watchModel();
  }

  protected refresh(): void {
    const view = this._model.view;
    this.node.dataset.view = view.kind;
    this._summary.update();
    const cluster = view.kind === 'cluster';
    for (const widget of this._ticking) {
      widget.setHidden(!cluster);
      if (cluster) widget.update();
    }
    this.keepTicking(cluster);
  }

  protected tick(): void {
    for (const widget of this._ticking) widget.update();
  }
}
