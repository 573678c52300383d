import { Widget } from '@lumino/widgets';
import type { EngineStatus, TaskStreamItem } from '../model/comm-messages.js';
import type { StatusModel } from '../model/status-model.js';
import { controllerNow } from '../model/summary.js';
import { escapeXml } from './dom.js';
import { formatDuration } from './format.js';

/** How much recent time the stream shows, like Dask's rolling task stream. */
const WINDOW_MS = 30_000;
const ROW_HEIGHT = 16;
const LABEL_WIDTH = 28;
const AXIS_HEIGHT = 16;

interface Bar {
  engineId: number;
  start: number;
  end: number;
  status: TaskStreamItem['status'] | 'running';
  title: string;
}

function finishedBars(tasks: readonly TaskStreamItem[], from: number): Bar[] {
  return tasks
    .filter(t => t.completed >= from)
    .map(t => ({
      engineId: t.engineId,
      start: t.started,
      end: t.completed,
      status: t.status,
      title: `engine ${t.engineId}: ${t.kind} ${t.status}, ${formatDuration(t.completed - t.started)}`
    }));
}

function runningBars(engines: readonly EngineStatus[], now: number): Bar[] {
  return engines
    .filter(e => e.current)
    .map(e => ({
      engineId: e.id,
      start: e.current!.started,
      end: now,
      status: 'running' as const,
      title: `engine ${e.id}: ${e.current!.kind} running for ${formatDuration(now - e.current!.started)}`
    }));
}

/**
 * A timeline per engine of the recent tasks, coloured by outcome (running ones grow at the right edge).
 * Drawn as SVG: a few hundred rectangles redraw in well under a frame, and each has a tooltip.
 */
export class TaskStreamView extends Widget {
  constructor(private readonly _model: StatusModel) {
    super();
    this.addClass('tsp-TaskStream');
  }

  protected override onResize(): void {
    this.update();
  }

  protected override onUpdateRequest(): void {
    const view = this._model.view;
    if (view.kind !== 'cluster') return;
    const now = controllerNow(view.snapshot, view.receivedAt, Date.now());
    const from = now - WINDOW_MS;
    const engineIds = [...new Set([...view.snapshot.engines.map(e => e.id), ...this._model.tasks.tasks.map(t => t.engineId)])].sort((a, b) => a - b);
    const bars = [...finishedBars(this._model.tasks.tasks, from), ...runningBars(view.snapshot.engines, now)];
    const width = Math.max(160, this.node.clientWidth || 280);
    const plot = width - LABEL_WIDTH;
    const height = engineIds.length * ROW_HEIGHT + AXIS_HEIGHT;
    const x = (t: number) => LABEL_WIDTH + (Math.max(t, from) - from) / WINDOW_MS * plot;
    const y = (engineId: number) => engineIds.indexOf(engineId) * ROW_HEIGHT;

    const parts: string[] = [];
    engineIds.forEach((id, i) => {
      parts.push(`<text class="tsp-TaskStream-label" x="2" y="${i * ROW_HEIGHT + 12}">${id}</text>`);
      parts.push(`<line class="tsp-TaskStream-lane" x1="${LABEL_WIDTH}" x2="${width}" y1="${(i + 1) * ROW_HEIGHT - 0.5}" y2="${(i + 1) * ROW_HEIGHT - 0.5}"/>`);
    });
    for (const bar of bars) {
      const left = x(bar.start);
      const w = Math.max(1.5, x(bar.end) - left);
      parts.push(
        `<rect class="tsp-Task tsp-Task-${bar.status}" data-engine-id="${bar.engineId}" x="${left.toFixed(1)}" y="${y(bar.engineId) + 2}" width="${w.toFixed(1)}" height="${ROW_HEIGHT - 4}"><title>${escapeXml(bar.title)}</title></rect>`
      );
    }
    for (const secondsAgo of [30, 20, 10, 0]) {
      const tx = x(now - secondsAgo * 1000);
      parts.push(`<text class="tsp-TaskStream-tick" x="${Math.min(tx, width - 2)}" y="${height - 3}" text-anchor="${secondsAgo === 0 ? 'end' : 'middle'}">${secondsAgo ? `-${secondsAgo}s` : 'now'}</text>`);
    }
    this.node.dataset.taskCount = String(this._model.tasks.total);
    this.node.innerHTML =
      `<div class="tsp-SectionTitle">Task stream <span class="tsp-label">(last ${WINDOW_MS / 1000} s, ${this._model.tasks.total} tasks)</span></div>` +
      `<svg class="tsp-TaskStream-plot" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Task stream">${parts.join('')}</svg>`;
  }
}
