import { Panel, type Widget } from '@lumino/widgets';
import type { StatusModel } from '../model/status-model.js';
import { ActionLogView } from './action-log-view.js';
import { ClusterActions } from './cluster-actions.js';
import { ClusterHeader } from './cluster-header.js';
import { h } from './dom.js';
import { EngineTable } from './engine-table.js';
import { enginesIcon } from './icon.js';
import { ModelPanel } from './model-panel.js';
import { Notice } from './notice.js';
import { TaskStreamView } from './task-stream-view.js';

/** The "Parallel engines" sidebar: draws a StatusModel, and turns clicks into model actions. */
export class EnginePanel extends ModelPanel {
  private readonly _notice: Notice;
  /** What shows a cluster; its ages (heartbeat, current task) move with the clock while on screen. */
  private readonly _clusterParts: Widget[];
  private readonly _all: Widget[];

  /** `openDashboard`: what the heading's "Dashboard" button does; `showLog`: an engine row's log button. */
  constructor(model: StatusModel, openDashboard?: () => void, showLog?: (engineId: number) => void) {
    super(model);
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
    this._notice = new Notice(model);
    // The task stream before the engine list: with many engines it stays above the fold.
    this._clusterParts = [new ClusterHeader(model), new ClusterActions(model), new TaskStreamView(model), new EngineTable(model, showLog)];
    const log = new ActionLogView(model);
    this._all = [this._notice, ...this._clusterParts, log];
    for (const widget of [heading, this._notice, ...this._clusterParts, log]) this.addWidget(widget);

    this.watchModel();
  }

  protected refresh(): void {
    const view = this._model.view;
    const showCluster = view.kind === 'cluster';
    this.node.dataset.view = view.kind;
    const where = this.node.querySelector('.tsp-Heading-notebook');
    if (where) where.textContent = this._model.notebook?.path ?? '';
    this._notice.setHidden(showCluster);
    for (const part of this._clusterParts) part.setHidden(!showCluster);
    for (const widget of this._all) if (!widget.isHidden) widget.update();
    this.keepTicking(showCluster);
  }

  protected tick(): void {
    for (const part of this._clusterParts) part.update();
  }
}
