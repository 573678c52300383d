import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import type { StatusModel } from '../model/status-model.js';
import { h } from './dom.js';

/** Whole-cluster actions: add engines, stop the cluster (after a confirmation: it ends every engine). */
export class ClusterActions extends Widget {
  private readonly _count: HTMLInputElement;

  constructor(private readonly _model: StatusModel) {
    super();
    this.addClass('tsp-ClusterActions');
    this._count = h('input', { type: 'number', min: '1', max: '256', value: '1', class: 'tsp-Count', 'aria-label': 'Engines to add' });
    const add = h('button', { class: 'jp-Button jp-mod-styled jp-mod-accept', 'data-action': 'add_engines', type: 'button' }, 'Add');
    const stop = h('button', { class: 'jp-Button jp-mod-styled jp-mod-warn', 'data-action': 'stop_cluster', type: 'button' }, 'Stop cluster');
    add.addEventListener('click', () => {
      const n = this._count.valueAsNumber;
      void this._model.runAction({ action: 'add_engines', n: Number.isInteger(n) && n > 0 ? n : 1 });
    });
    stop.addEventListener('click', () => void this._confirmStop());
    this.node.append(h('label', {}, this._count, ' engines '), add, stop);
  }

  private async _confirmStop(): Promise<void> {
    const answer = await showDialog({
      title: 'Stop the cluster?',
      body: 'Every engine and the controller stop; results not yet fetched are lost.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Stop cluster' })]
    });
    if (answer.button.accept) await this._model.runAction({ action: 'stop_cluster' });
  }
}
