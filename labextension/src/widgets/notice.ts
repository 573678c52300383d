import { Widget } from '@lumino/widgets';
import type { RunningCluster } from '../model/comm-messages.js';
import type { PanelView, StatusModel } from '../model/status-model.js';
import { h, setAttr, setText } from './dom.js';
import { ReconnectButton } from './reconnect-button.js';

function explain(view: PanelView, notebook: string): { title: string; detail: string; code?: string } {
  switch (view.kind) {
    case 'no-notebook':
      return { title: 'No notebook', detail: 'Open a notebook on the TypeScript (tsparallel) kernel: its cluster shows here.' };
    case 'no-kernel':
      return { title: 'No kernel', detail: `${notebook} has no running kernel. Start the TypeScript (tsparallel) kernel to see its cluster.` };
    case 'connecting':
      return { title: 'Connecting…', detail: `Waiting for the kernel of ${notebook} to answer.` };
    case 'not-tsparallel':
      return {
        title: 'Not a tsparallel kernel',
        detail: `The kernel of ${notebook}${view.kernelName ? ` (${view.kernelName})` : ''} does not run tsparallel. Switch it to the TypeScript (tsparallel) kernel to run and watch a cluster.`
      };
    case 'no-cluster':
      return {
        title: 'No cluster',
        detail: view.running.length
          ? `The kernel of ${notebook} is not connected to a cluster. Connect to a running one, start one here, or from a cell with`
          : `The kernel of ${notebook} is not connected to a cluster${view.profile ? ` (profile ${view.profile})` : ''}. Start one here, or from a cell with`,
        code: view.running.length ? '%tspcluster connect' : '%tspcluster start -n 4'
      };
    case 'controller-lost':
      return {
        title: 'Controller lost',
        detail: `The cluster of profile ${view.profile} is gone: ${view.reason}. Its engines and results are no longer reachable. ${
          view.running.length ? 'Reconnect once its controller is back, connect to a running cluster, or start one.' : 'Reconnect once its controller is back (Reconnect waits for it), or start a cluster.'
        }`
      };
    case 'cluster':
      return { title: '', detail: '' };
  }
}

/**
 * Says why there is no cluster to show and what to do about it; with a tsparallel kernel and no cluster,
 * it offers to start one.
 */
export class Notice extends Widget {
  private readonly _title = h('div', { class: 'tsp-Notice-title' });
  private readonly _detail = h('span');
  private readonly _code = h('code');
  private readonly _start: HTMLFormElement;
  private readonly _count: HTMLInputElement;
  private readonly _connect = h('div', { class: 'tsp-ConnectList' });
  private _connectProfiles = '';
  private readonly _reconnect: ReconnectButton;

  constructor(private readonly _model: StatusModel) {
    super();
    this.addClass('tsp-Notice');
    this._count = h('input', { type: 'number', min: '1', max: '256', value: '2', class: 'tsp-Count', 'aria-label': 'Number of engines' });
    this._start = h(
      'form',
      { class: 'tsp-StartForm' },
      h('label', {}, 'Engines ', this._count),
      h('button', { type: 'submit', class: 'jp-Button jp-mod-styled jp-mod-accept', 'data-action': 'start' }, 'Start cluster')
    );
    this._start.addEventListener('submit', event => {
      event.preventDefault();
      const n = this._count.valueAsNumber;
      void this._model.runAction(Number.isInteger(n) && n > 0 ? { action: 'start', n } : { action: 'start' });
    });
    this._reconnect = new ReconnectButton(_model);
    this.node.append(this._title, h('div', { class: 'tsp-Notice-detail' }, this._detail, ' ', this._code), this._reconnect.node, this._connect, this._start);
  }

  override dispose(): void {
    this._reconnect.dispose();
    super.dispose();
  }

  protected override onUpdateRequest(): void {
    const view = this._model.view;
    const { title, detail, code } = explain(view, this._model.notebook?.path ?? 'this notebook');
    setAttr(this.node, 'data-view', view.kind);
    setText(this._title, title);
    setText(this._detail, detail);
    setText(this._code, code ?? '');
    this._code.hidden = !code;
    const busy = this._model.pendingActions.some(a => a.request.action === 'start' || a.request.action === 'connect');
    const offers = view.kind === 'no-cluster' || view.kind === 'controller-lost';
    this._start.hidden = !offers;
    this._syncConnect(offers ? view.running : []);
    for (const control of this.node.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) {
      if (control.dataset.action !== 'reconnect') control.disabled = busy;
    }
  }

  /** One Connect button per running cluster (rebuilt only when the list changes, so a click is never lost). */
  private _syncConnect(running: readonly RunningCluster[]): void {
    const key = JSON.stringify(running);
    this._connect.hidden = running.length === 0;
    if (key === this._connectProfiles) return;
    this._connectProfiles = key;
    this._connect.replaceChildren(
      ...running.map(({ profile, clusterId }) => {
        const button = h(
          'button',
          { type: 'button', class: 'jp-Button jp-mod-styled jp-mod-accept', 'data-action': 'connect', 'data-profile': profile, 'data-cluster-id': clusterId },
          clusterId ? `Connect to ${profile} (cluster ${clusterId})` : `Connect to ${profile}`
        );
        button.addEventListener('click', () => void this._model.runAction({ action: 'connect', profile, ...(clusterId ? { clusterId } : {}) }));
        return button;
      })
    );
  }
}
