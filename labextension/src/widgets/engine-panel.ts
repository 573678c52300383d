import { Panel, type Widget } from '@lumino/widgets';
import type { StatusModel } from '../model/status-model.js';
import { ActionLogView } from './action-log-view.js';
import { ClusterActions } from './cluster-actions.js';
import { ClusterHeader } from './cluster-header.js';
import { h } from './dom.js';
import { EngineTable } from './engine-table.js';
import { enginesIcon } from './icon.js';
import { Notice } from './notice.js';
import { TaskStreamView } from './task-stream-view.js';

/**
 * Ages (heartbeat, current task) move between snapshots; while the panel is on screen and shows a
 * cluster it redraws twice a second. Hidden, or with no cluster, it keeps no timer at all.
 */
const TICK_MS = 500;

/** The "Parallel engines" sidebar: draws a StatusModel, and turns clicks into model actions. */
export class EnginePanel extends Panel {
  private readonly _notice: Notice;
  private readonly _clusterParts: Widget[];
  private readonly _all: Widget[];
  private _ticker: ReturnType<typeof setInterval> | null = null;

  /** `openDashboard`: what the heading's "Dashboard" button does; `showLog`: an engine row's log button. */
  constructor(
    private readonly _model: StatusModel,
    openDashboard?: () => void,
    showLog?: (engineId: number) => void
  ) {
    super();
    this.id = 'tsparallel-engines';
    this.addClass('tsp-EnginePanel');
    this.title.icon = enginesIcon;
    this.title.caption = 'Parallel engines';
    this.node.setAttribute('aria-label', 'Parallel engines');

    const heading = new Panel();
    heading.addClass('tsp-Heading');
    heading.node.append(h('h2', {}, 'Parallel engines'), h('div', { class: 'tsp-Heading-notebook' }));
    if (openDashboard) {
      const button = h('button', { class: 'jp-Button tsp-OpenDashboard', type: 'button', title: 'Open a dashboard of this cluster in the main area' }, 'Dashboard');
      button.addEventListener('click', () => openDashboard());
      heading.node.append(button);
    }
    this._notice = new Notice(_model);
    // The task stream before the engine list: with many engines it stays above the fold.
    this._clusterParts = [new ClusterHeader(_model), new ClusterActions(_model), new TaskStreamView(_model), new EngineTable(_model, showLog)];
    const log = new ActionLogView(_model);
    this._all = [this._notice, ...this._clusterParts, log];
    for (const widget of [heading, this._notice, ...this._clusterParts, log]) this.addWidget(widget);

    _model.changed.connect(this._refresh, this);
    this._refresh();
  }

  override dispose(): void {
    this._stopTicker();
    this._model.changed.disconnect(this._refresh, this);
    super.dispose();
  }

  protected override onAfterShow(): void {
    this._refresh();
  }

  protected override onAfterHide(): void {
    this._stopTicker();
  }

  protected override onBeforeDetach(): void {
    this._stopTicker();
  }

  private _refresh(): void {
    const view = this._model.view;
    const showCluster = view.kind === 'cluster';
    this.node.dataset.view = view.kind;
    const where = this.node.querySelector('.tsp-Heading-notebook');
    if (where) where.textContent = this._model.notebook?.path ?? '';
    this._notice.setHidden(showCluster);
    for (const part of this._clusterParts) part.setHidden(!showCluster);
    for (const widget of this._all) if (!widget.isHidden) widget.update();
    if (showCluster && this.isVisible) this._startTicker();
    else this._stopTicker();
  }

  private _startTicker(): void {
    this._ticker ??= setInterval(() => {
      for (const part of this._clusterParts) part.update();
    }, TICK_MS);
  }

  private _stopTicker(): void {
    if (this._ticker !== null) clearInterval(this._ticker);
    this._ticker = null;
  }
}
