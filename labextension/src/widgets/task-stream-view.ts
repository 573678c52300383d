import { Widget } from '@lumino/widgets';
import type { EngineStatus, TaskStreamItem } from '../model/comm-messages.js';
import type { StatusModel } from '../model/status-model.js';
import { controllerNow } from '../model/summary.js';
import { TimeWindow } from '../model/time-window.js';
import { h, setAttr, setText } from './dom.js';
import { formatDuration } from './format.js';

/** How much recent time the stream shows at first, like Dask's rolling task stream. */
const WINDOW_MS = 30_000;
/** A drag shorter than this is a click (it pins a task's details). */
const DRAG_PX = 3;
const ROW_HEIGHT = 16;
const LABEL_WIDTH = 28;
const AXIS_HEIGHT = 16;
const SVG_NS = 'http://www.w3.org/2000/svg';

interface Bar {
  key: string;
  msgId: string;
  engineId: number;
  start: number;
  end: number;
  status: TaskStreamItem['status'] | 'running';
  kind: string;
  name?: string;
  index?: number;
  error?: string;
}

function finishedBars(tasks: readonly TaskStreamItem[], from: number, to: number): Bar[] {
  const bars: Bar[] = [];
  for (const t of tasks) {
    if (t.completed < from || t.started > to) continue;
    bars.push({ key: `${t.engineId}/${t.msgId}`, msgId: t.msgId, engineId: t.engineId, start: t.started, end: t.completed, status: t.status, kind: t.kind, name: t.name, index: t.index, error: t.error });
  }
  return bars;
}

function runningBars(engines: readonly EngineStatus[], now: number, to: number): Bar[] {
  return engines
    .filter(e => e.current && e.current.started <= to)
    .map(e => ({ key: `${e.id}/${e.current!.msgId}/running`, msgId: e.current!.msgId, engineId: e.id, start: e.current!.started, end: now, status: 'running' as const, kind: e.current!.kind }));
}

/** A time of day to the millisecond: tasks are often shorter than a second. */
function clock(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** An offset from the right edge of the window, for the axis: "-30s", "-2.5 min". */
function ago(ms: number): string {
  if (ms <= 0) return 'now';
  return ms < 60_000 ? `-${+(ms / 1000).toFixed(ms < 3000 ? 1 : 0)}s` : `-${+(ms / 60_000).toFixed(1)} min`;
}

/** The details a hovered bar shows: what ran (function, item), where, when, how long, and how it ended. */
export function describeBar(bar: Bar, now: number): string[] {
  const what = bar.name ? `${bar.kind} ${bar.name}` : bar.kind;
  const lines = [bar.index !== undefined ? `${what}, items from #${bar.index}` : what, `engine ${bar.engineId}`];
  lines.push(`started ${clock(bar.start)}`);
  if (bar.status !== 'running') lines.push(`ended ${clock(bar.end)}`);
  lines.push(bar.status === 'running' ? `running for ${formatDuration(now - bar.start)}` : `${bar.status}, ${formatDuration(bar.end - bar.start)}`);
  lines.push(`msg ${bar.msgId}`);
  if (bar.error) lines.push(bar.error);
  return lines;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  return el;
}

export interface TaskStreamOptions {
  /**
   * Zoom and pan (the dashboard's stream): the wheel zooms around the pointer, a drag pans, buttons do
   * both; a window panned into the past stays there until "Live". The sidebar's stream always shows the
   * last 30 s.
   */
  zoomable?: boolean;
}

/**
 * A timeline per engine of the recent tasks, coloured by outcome (running ones grow at the right edge).
 * Bars are placed on a time axis inside a group that slides left as time passes: a tick moves the group
 * (one attribute) and grows running bars, and the bars themselves are only rebuilt when the tasks shown
 * change. So an idle stream does not redraw, and a hovered bar keeps its details.
 */
export class TaskStreamView extends Widget {
  private readonly _title = h('span', { class: 'tsp-label' });
  private readonly _plot = svg('svg', { class: 'tsp-TaskStream-plot', role: 'img', 'aria-label': 'Task stream' });
  private readonly _lanes = svg('g', { class: 'tsp-TaskStream-lanes' });
  private readonly _clip = svg('rect', { x: String(LABEL_WIDTH), y: '0' });
  private readonly _bars = svg('g', { class: 'tsp-TaskStream-bars' });
  private readonly _axis = svg('g', { class: 'tsp-TaskStream-axis' });
  private readonly _tooltip = h('div', { class: 'tsp-TaskTooltip', role: 'tooltip' });
  private readonly _barData = new WeakMap<Element, Bar>();
  private readonly _running = new Map<SVGRectElement, Bar>();
  /** What the bars and lanes were drawn from; null: draw them afresh. */
  private _barsKey: string | null = null;
  private _lanesKey: string | null = null;
  private _origin = 0;
  private _scale = 0;
  private _hovered: SVGRectElement | null = null;
  private _pinned: SVGRectElement | null = null;
  private _now = 0;
  private readonly _window = new TimeWindow(WINDOW_MS);
  private readonly _zoomable: boolean;
  /** Where a drag began (pointer x, window end, scale), and whether it moved enough to be a drag. */
  private _drag: { x: number; end: number; scale: number; moved: boolean } | null = null;
  private _dragged = false;

  constructor(
    private readonly _model: StatusModel,
    options: TaskStreamOptions = {}
  ) {
    super();
    this.addClass('tsp-TaskStream');
    this._zoomable = options.zoomable ?? false;
    const clipId = `tsp-TaskStream-clip-${Math.random().toString(36).slice(2)}`;
    const clipPath = svg('clipPath', { id: clipId });
    clipPath.append(this._clip);
    const defs = svg('defs');
    defs.append(clipPath);
    const clipped = svg('g', { 'clip-path': `url(#${clipId})` });
    clipped.append(this._bars);
    this._plot.append(defs, this._lanes, clipped, this._axis);
    this._tooltip.hidden = true;
    this.node.append(h('div', { class: 'tsp-SectionTitle' }, 'Task stream ', this._title));
    if (this._zoomable) this.node.append(this._controls());
    this.node.append(this._plot, this._tooltip);
    // Hover shows a task's details; a click pins them (a bar slides away from a still pointer).
    this._plot.addEventListener('mouseover', event => this._hover(this._barAt(event.target as Element) ?? this._pinned));
    this._plot.addEventListener('mouseleave', () => this._hover(this._pinned));
    this._plot.addEventListener('click', event => {
      if (this._dragged) return; // the end of a drag, not a click
      this._pinned = this._barAt(event.target as Element);
      this._hover(this._pinned);
    });
  }

  /** The window shown: its span in ms, and whether it follows the clock. */
  get window(): TimeWindow {
    return this._window;
  }

  /** "Pause" while the window follows the clock, "Live" while it does not. */
  private readonly _liveButton = h('button', { type: 'button', class: 'tsp-TaskStream-button', 'data-live': '' }, 'Pause');

  private _controls(): HTMLElement {
    this._liveButton.addEventListener('click', () => {
      if (this._window.live) this._window.pause(this._now || Date.now());
      else this._window.goLive();
      this.update();
    });
    const button = (label: string, title: string, data: Record<string, string>, act: (now: number) => void) => {
      const b = h('button', { type: 'button', class: 'tsp-TaskStream-button', title, 'aria-label': title, ...data }, label);
      b.addEventListener('click', () => {
        act(this._now || Date.now());
        this.update();
      });
      return b;
    };
    const controls = h(
      'div',
      { class: 'tsp-TaskStream-controls' },
      button('−', 'Zoom out', { 'data-zoom': 'out' }, now => this._window.zoom(2, now)),
      button('+', 'Zoom in', { 'data-zoom': 'in' }, now => this._window.zoom(0.5, now)),
      button('◀', 'Earlier', { 'data-pan': 'earlier' }, now => this._window.pan(-this._window.span / 2, now)),
      button('▶', 'Later', { 'data-pan': 'later' }, now => this._window.pan(this._window.span / 2, now)),
      this._liveButton,
      button('Reset', 'The last 30 s, live', { 'data-reset': '' }, () => this._window.reset())
    );
    this._plot.addEventListener(
      'wheel',
      event => {
        event.preventDefault();
        const box = this._plot.getBoundingClientRect();
        const anchor = Math.min(1, Math.max(0, (event.clientX - box.left - LABEL_WIDTH) / Math.max(1, box.width - LABEL_WIDTH)));
        this._window.zoom(event.deltaY > 0 ? 1.25 : 0.8, this._now || Date.now(), anchor);
        this.update();
      },
      { passive: false }
    );
    this._plot.addEventListener('pointerdown', event => {
      if (event.button !== 0 || !this._scale) return;
      const now = this._now || Date.now();
      this._drag = { x: event.clientX, end: this._window.end(now), scale: this._scale, moved: false };
      this._dragged = false;
    });
    this._plot.addEventListener('pointermove', event => {
      const drag = this._drag;
      if (!drag) return;
      const dx = event.clientX - drag.x;
      if (!drag.moved && Math.abs(dx) < DRAG_PX) return;
      if (!drag.moved) this._plot.setPointerCapture(event.pointerId); // the drag goes on outside the plot
      drag.moved = true;
      this._dragged = true;
      // Measured from where the drag began, so no move is lost; dragging right brings earlier times into view.
      this._window.panTo(drag.end - dx / drag.scale, this._now || Date.now());
      this.update();
    });
    const endDrag = (event: PointerEvent) => {
      if (this._plot.hasPointerCapture(event.pointerId)) this._plot.releasePointerCapture(event.pointerId);
      this._drag = null;
    };
    this._plot.addEventListener('pointerup', endDrag);
    this._plot.addEventListener('pointercancel', endDrag);
    return controls;
  }

  protected override onResize(): void {
    this._lanesKey = null;
    this._barsKey = null;
    this.update();
  }

  protected override onUpdateRequest(): void {
    const view = this._model.view;
    if (view.kind !== 'cluster') return;
    const now = controllerNow(view.snapshot, view.receivedAt, Date.now());
    this._now = now;
    const span = this._window.span;
    const end = this._window.end(now);
    const live = this._window.live;
    const from = end - span;
    const finished = finishedBars(this._model.tasks.tasks, from, end);
    const running = runningBars(view.snapshot.engines, now, end);
    // Lanes: engines alive now, and any engine with a task in the window (a stopped engine's lane goes with its last task).
    const laneIds = new Set<number>();
    for (const e of view.snapshot.engines) if (e.state === 'idle' || e.state === 'busy') laneIds.add(e.id);
    for (const bar of finished) laneIds.add(bar.engineId);
    const engineIds = [...laneIds].sort((a, b) => a - b);
    const width = Math.max(160, this.node.clientWidth || 280);
    const plot = width - LABEL_WIDTH;
    const height = engineIds.length * ROW_HEIGHT + AXIS_HEIGHT;

    // A live window's axis is relative to now; a paused one's says the times of day.
    const lanesKey = `${width}|${engineIds.join(',')}|${span}|${live ? 'live' : end}`;
    if (lanesKey !== this._lanesKey) {
      this._lanesKey = lanesKey;
      this._barsKey = null;
      this._drawLanes(engineIds, width, height, span, live ? null : end);
    }
    const barsKey = [...finished, ...running].map(b => b.key).join(' ');
    if (barsKey !== this._barsKey) {
      this._barsKey = barsKey;
      // Time is laid out from a fixed origin: only the group's translation follows the clock.
      this._origin = end;
      this._scale = plot / span;
      this._drawBars([...finished, ...running], engineIds);
    }
    setAttr(this._bars, 'transform', `translate(${(LABEL_WIDTH + plot - (end - this._origin) * this._scale).toFixed(1)},0)`);
    for (const [rect, bar] of this._running) {
      bar.end = now;
      setAttr(rect, 'width', Math.max(1.5, (now - bar.start) * this._scale).toFixed(1));
    }
    if (this._hovered) this._showTooltip(this._hovered);
    const inWindow = finished.length;
    const tasks = `${inWindow} task${inWindow === 1 ? '' : 's'}`;
    this.node.dataset.taskCount = String(inWindow);
    this.node.dataset.span = String(Math.round(span));
    this.node.dataset.live = String(live);
    setText(this._liveButton, live ? 'Pause' : 'Live');
    setAttr(this._liveButton, 'title', live ? 'Stop following the clock' : 'Follow the clock again');
    setText(this._title, live ? `(last ${formatDuration(span)}: ${tasks})` : `(${clock(from)} – ${clock(end)}: ${tasks})`);
  }

  private _drawLanes(engineIds: number[], width: number, height: number, span: number, pausedEnd: number | null): void {
    setAttr(this._plot, 'width', String(width));
    setAttr(this._plot, 'height', String(height));
    setAttr(this._plot, 'viewBox', `0 0 ${width} ${height}`);
    setAttr(this._clip, 'width', String(width - LABEL_WIDTH));
    setAttr(this._clip, 'height', String(height));
    const lanes: SVGElement[] = [];
    engineIds.forEach((id, i) => {
      const label = svg('text', { class: 'tsp-TaskStream-label', x: '2', y: String(i * ROW_HEIGHT + 12) });
      label.textContent = String(id);
      const y = String((i + 1) * ROW_HEIGHT - 0.5);
      lanes.push(label, svg('line', { class: 'tsp-TaskStream-lane', x1: String(LABEL_WIDTH), x2: String(width), y1: y, y2: y }));
    });
    this._lanes.replaceChildren(...lanes);
    const plot = width - LABEL_WIDTH;
    const ticks: SVGElement[] = [];
    for (const fraction of [1, 2 / 3, 1 / 3, 0]) {
      const x = LABEL_WIDTH + plot * (1 - fraction);
      const anchor = fraction === 0 ? 'end' : fraction === 1 ? 'start' : 'middle';
      const tick = svg('text', { class: 'tsp-TaskStream-tick', x: String(Math.min(x, width - 2)), y: String(height - 3), 'text-anchor': anchor });
      tick.textContent = pausedEnd === null ? ago(span * fraction) : clock(pausedEnd - span * fraction).slice(0, span < 10_000 ? 12 : 8);
      ticks.push(tick);
    }
    this._axis.replaceChildren(...ticks);
  }

  private _drawBars(bars: Bar[], engineIds: number[]): void {
    this._running.clear();
    // Failures drawn last, on top: among many short tasks they are what one looks for.
    const ordered = [...bars.filter(b => b.status !== 'error'), ...bars.filter(b => b.status === 'error')];
    const rects = ordered.map(bar => {
      const rect = svg('rect', {
        class: `tsp-Task tsp-Task-${bar.status}`,
        'data-engine-id': String(bar.engineId),
        x: ((bar.start - this._origin) * this._scale).toFixed(1),
        y: String(engineIds.indexOf(bar.engineId) * ROW_HEIGHT + 2),
        width: Math.max(1.5, (bar.end - bar.start) * this._scale).toFixed(1),
        height: String(ROW_HEIGHT - 4)
      });
      rect.setAttribute('data-msg-id', bar.msgId);
      if (bar.name) rect.setAttribute('data-name', bar.name);
      this._barData.set(rect, bar);
      if (bar.status === 'running') this._running.set(rect, bar);
      return rect;
    });
    const find = (rect: SVGRectElement | null) => {
      const key = rect ? this._barData.get(rect)?.key : undefined;
      return (key && rects.find(r => this._barData.get(r)?.key === key)) || null;
    };
    const hovered = find(this._hovered);
    this._pinned = find(this._pinned);
    this._bars.replaceChildren(...rects);
    // A bar still shown keeps its details open across a rebuild.
    this._hover(hovered ?? this._pinned);
  }

  private _barAt(target: Element | null): SVGRectElement | null {
    return target && this._barData.has(target) ? (target as SVGRectElement) : null;
  }

  private _hover(rect: SVGRectElement | null): void {
    if (this._hovered && this._hovered !== rect) this._hovered.classList.remove('tsp-mod-hovered');
    this._hovered = rect;
    if (!rect) {
      this._tooltip.hidden = true;
      return;
    }
    rect.classList.add('tsp-mod-hovered');
    rect.classList.toggle('tsp-mod-pinned', rect === this._pinned);
    this._showTooltip(rect);
  }

  private _showTooltip(rect: SVGRectElement): void {
    const bar = this._barData.get(rect);
    if (!bar) return;
    const lines = describeBar(bar, this._now);
    const text = lines.join('\n');
    if (this._tooltip.dataset.text !== text) {
      this._tooltip.dataset.text = text;
      this._tooltip.replaceChildren(...lines.map((line, i) => h('div', { class: i === 0 ? 'tsp-TaskTooltip-what' : bar.error === line ? 'tsp-TaskTooltip-error' : '' }, line)));
    }
    const box = rect.getBoundingClientRect();
    const host = this.node.getBoundingClientRect();
    this._tooltip.style.left = `${Math.max(0, Math.min(box.left - host.left, host.width - 200))}px`;
    this._tooltip.style.top = `${box.bottom - host.top + 4}px`;
    this._tooltip.hidden = false;
  }
}
