import { Widget } from '@lumino/widgets';
import type { StatusModel } from '../model/status-model.js';
import { h, setText } from './dom.js';

/**
 * "Reconnect", shown while the controller is lost: the kernel connects a new client to the same
 * profile's controller once it is back (restarted by its supervisor, or started again) and drops the
 * lost one. While it waits, the button says so; the outcome goes to the action log.
 */
export class ReconnectButton extends Widget {
  private readonly _button: HTMLButtonElement;

  constructor(private readonly _model: StatusModel) {
    super({ node: h('span', { class: 'tsp-Reconnect' }) });
    this._button = h('button', { type: 'button', class: 'jp-Button jp-mod-styled jp-mod-accept', 'data-action': 'reconnect' }, 'Reconnect');
    this._button.addEventListener('click', () => {
      const view = this._model.view;
      if (view.kind === 'controller-lost') void this._model.runAction({ action: 'reconnect', profile: view.profile });
    });
    this.node.append(this._button);
    _model.changed.connect(this._sync, this);
    this._sync();
  }

  override dispose(): void {
    this._model.changed.disconnect(this._sync, this);
    super.dispose();
  }

  private _sync(): void {
    const view = this._model.view;
    const waiting = this._model.pendingActions.some(a => a.request.action === 'reconnect');
    this.node.hidden = view.kind !== 'controller-lost';
    this._button.disabled = waiting;
    setText(this._button, waiting && view.kind === 'controller-lost' ? `Waiting for the controller of ${view.profile}…` : view.kind === 'controller-lost' ? `Reconnect to ${view.profile}` : 'Reconnect');
  }
}
