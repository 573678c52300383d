import { Widget } from '@lumino/widgets';
import type { StatusModel } from '../model/status-model.js';
import { h } from './dom.js';

const MARK = { pending: '…', ok: '✓', failed: '✗' } as const;

/** The outcome of each recent action, failures included: nothing the user asked for passes silently. */
export class ActionLogView extends Widget {
  constructor(private readonly _model: StatusModel) {
    super();
    this.addClass('tsp-ActionLog');
    this.node.setAttribute('role', 'log');
    this.node.setAttribute('aria-live', 'polite');
  }

  protected override onUpdateRequest(): void {
    const entries = this._model.actions;
    this.node.hidden = entries.length === 0;
    this.node.replaceChildren(
      ...[...entries].reverse().map(e =>
        h(
          'div',
          { class: `tsp-Action tsp-Action-${e.outcome}`, 'data-outcome': e.outcome, 'data-action': e.request.action },
          h('span', { class: 'tsp-Action-mark' }, MARK[e.outcome]),
          ` ${e.label}`,
          e.message ? h('span', { class: 'tsp-Action-message' }, ` — ${e.message}`) : null
        )
      )
    );
  }
}
