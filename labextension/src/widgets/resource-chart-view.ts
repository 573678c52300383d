import { Widget } from '@lumino/widgets';
import type { ResourcePoint, ResourceSeries } from '../model/resource-history.js';
import type { StatusModel } from '../model/status-model.js';
import { h, setAttr, setText } from './dom.js';
import { formatBytes, formatPercent } from './format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 240;
const HEIGHT = 36;

interface Row {
  el: HTMLElement;
  label: HTMLElement;
  cpu: { line: SVGPolylineElement; value: HTMLElement; scale: HTMLElement };
  rss: { line: SVGPolylineElement; value: HTMLElement; scale: HTMLElement };
}

/** Points of a sparkline over the window [to - span, to], values scaled to [0, max]. */
export function sparkline(points: readonly ResourcePoint[], pick: (p: ResourcePoint) => number, max: number, to: number, span: number): string {
  return points
    .map(p => {
      const x = WIDTH - ((to - p.time) / span) * WIDTH;
      const y = HEIGHT - 1 - (Math.min(pick(p), max) / max) * (HEIGHT - 2);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

function chart(kind: string): { svg: SVGSVGElement; line: SVGPolylineElement } {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', `tsp-Spark tsp-Spark-${kind}`);
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('width', String(WIDTH));
  svg.setAttribute('height', String(HEIGHT));
  svg.setAttribute('preserveAspectRatio', 'none');
  const line = document.createElementNS(SVG_NS, 'polyline');
  line.setAttribute('class', 'tsp-Spark-line');
  svg.append(line);
  return { svg, line };
}

/** The top of a memory chart: a power of two (at least 64 MiB) with a quarter of headroom above the peak, so charts compare. */
function memoryScale(points: readonly ResourcePoint[]): number {
  const peak = Math.max(1, ...points.map(p => p.rss)) * 1.25;
  let top = 64 * 1024 * 1024;
  while (top < peak) top *= 2;
  return top;
}

/** A young history fills the chart (at least 30 s wide); an old one shows the whole window. */
const MIN_CHART_SPAN_MS = 30_000;

/**
 * CPU and memory over the last minutes, a pair of small charts per engine and for the controller (from
 * the snapshots the kernel relays: no extra request). Redrawn when a snapshot brings new readings.
 */
export class ResourceChartView extends Widget {
  private readonly _list = h('div', { class: 'tsp-Resources-list' });
  private readonly _rows = new Map<string, Row>();

  constructor(private readonly _model: StatusModel) {
    super();
    this.addClass('tsp-Resources');
    const minutes = this._model.resources.spanMs / 60_000;
    this.node.append(h('h3', {}, `CPU and memory (up to the last ${minutes} min)`), this._list);
    _model.changed.connect(this.update, this);
    this.update();
  }

  override dispose(): void {
    this._model.changed.disconnect(this.update, this);
    super.dispose();
  }

  protected override onUpdateRequest(): void {
    const history = this._model.resources;
    const series = history.series;
    const to = Math.max(0, ...series.map(s => s.points.at(-1)?.time ?? 0));
    const from = Math.min(to, ...series.map(s => s.points[0]?.time ?? to));
    const span = Math.min(history.spanMs, Math.max(MIN_CHART_SPAN_MS, to - from));
    const shown = new Set<string>();
    for (const s of series) {
      shown.add(s.key);
      const row = this._rows.get(s.key) ?? this._createRow(s);
      this._list.append(row.el); // keeps display order
      this._fill(row, s, to, span);
    }
    for (const [key, row] of this._rows) {
      if (shown.has(key)) continue;
      row.el.remove();
      this._rows.delete(key);
    }
    this.node.dataset.series = String(series.length);
  }

  private _createRow(s: ResourceSeries): Row {
    const part = (kind: string, title: string) => {
      const { svg, line } = chart(kind);
      const value = h('span', { class: 'tsp-figure', 'data-field': `${kind}-now` });
      const scale = h('span', { class: 'tsp-label', 'data-field': `${kind}-scale` });
      return { el: h('span', { class: `tsp-Resources-chart`, title }, svg, h('span', { class: 'tsp-Resources-values' }, value, scale)), line, value, scale };
    };
    const cpu = part('cpu', 'CPU, percent of one core');
    const rss = part('rss', 'Resident memory');
    const label = h('span', { class: 'tsp-Resources-label' });
    const el = h('div', { class: 'tsp-Resources-row', 'data-series': s.key, ...(s.engineId !== null ? { 'data-engine-id': String(s.engineId) } : {}) }, label, cpu.el, rss.el);
    const row: Row = { el, label, cpu, rss };
    this._rows.set(s.key, row);
    return row;
  }

  private _fill(row: Row, s: ResourceSeries, to: number, span: number): void {
    setText(row.label, s.engineId === null ? 'controller' : s.rank !== undefined ? `engine ${s.engineId} · rank ${s.rank}` : `engine ${s.engineId}`);
    const last = s.points.at(-1);
    // CPU can exceed 100% (worker threads): the chart's top follows the peak, in steps of 100%.
    const cpuTop = Math.max(100, Math.ceil((Math.max(0, ...s.points.map(p => p.cpu)) * 1.1) / 100) * 100);
    const rssTop = memoryScale(s.points);
    setAttr(row.cpu.line, 'points', sparkline(s.points, p => p.cpu, cpuTop, to, span));
    setAttr(row.rss.line, 'points', sparkline(s.points, p => p.rss, rssTop, to, span));
    setText(row.cpu.value, last ? `CPU ${formatPercent(last.cpu)}` : '–');
    setText(row.cpu.scale, ` (max ${cpuTop}%)`);
    setText(row.rss.value, last ? formatBytes(last.rss) : '–');
    setText(row.rss.scale, ` (of ${formatBytes(rssTop)})`);
    row.el.dataset.points = String(s.points.length);
    // The latest readings, for a reader of the page (a test, a screen reader's tooling): the chart has them as coordinates only.
    row.el.dataset.cpuRecent = s.points.slice(-20).map(p => Math.round(p.cpu)).join(',');
  }
}
