import { Widget } from '@lumino/widgets';
import type { StatusModel } from '../model/status-model.js';
import { summarize } from '../model/summary.js';
import { h, setText } from './dom.js';
import { formatRate } from './format.js';

/** Profile, controller, and the engine and task counts of the whole cluster. */
export class ClusterHeader extends Widget {
  private readonly _fields = new Map<string, HTMLElement>();

  constructor(private readonly _model: StatusModel) {
    super();
    this.addClass('tsp-ClusterHeader');
    const field = (name: string) => {
      const el = h('span', { class: 'tsp-figure', 'data-field': name });
      this._fields.set(name, el);
      return el;
    };
    this.node.append(
      h('div', { class: 'tsp-ClusterHeader-where' }, h('span', { class: 'tsp-label' }, 'Profile '), field('profile'), h('span', { class: 'tsp-label' }, ' · '), field('controller')),
      h(
        'div',
        { class: 'tsp-ClusterHeader-line' },
        h('span', { class: 'tsp-label' }, 'Engines '),
        field('registered'), ' registered · ', field('busy'), ' busy · ', field('dead'), ' dead'
      ),
      h(
        'div',
        { class: 'tsp-ClusterHeader-line' },
        h('span', { class: 'tsp-label' }, 'Tasks '),
        field('queued'), ' queued · ', field('running'), ' running · ', field('done'), ' done · ', field('failed'), ' failed · ', field('perSecond'), '/s'
      )
    );
  }

  protected override onUpdateRequest(): void {
    const view = this._model.view;
    if (view.kind !== 'cluster') return;
    const s = summarize(view.snapshot);
    const values: Record<string, string> = {
      profile: view.snapshot.profile,
      controller: view.snapshot.controller.url,
      registered: String(s.registered),
      busy: String(s.busy),
      dead: String(s.dead),
      queued: String(s.queued),
      running: String(s.running),
      done: String(s.done),
      failed: String(s.failed),
      perSecond: formatRate(s.perSecond)
    };
    for (const [name, value] of Object.entries(values)) setText(this._fields.get(name)!, value);
    this._fields.get('controller')!.title = `controller ${view.snapshot.controller.url} (pid ${view.snapshot.controller.pid} on ${view.snapshot.controller.hostname}, ${view.snapshot.controller.scheme} scheduler)`;
    this._fields.get('failed')!.classList.toggle('tsp-mod-bad', s.failed > 0);
    this._fields.get('dead')!.classList.toggle('tsp-mod-bad', s.dead > 0);
  }
}
