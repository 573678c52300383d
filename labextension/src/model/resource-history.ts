import type { ClusterSnapshot } from './comm-messages.js';

/** One reading: controller time (ms), CPU in percent of one core, resident memory in bytes. */
export interface ResourcePoint {
  time: number;
  cpu: number;
  rss: number;
}

/** A series: the controller's, or one engine's. */
export interface ResourceSeries {
  key: string;
  /** null for the controller. */
  engineId: number | null;
  rank?: number;
  points: readonly ResourcePoint[];
}

export const CONTROLLER_KEY = 'controller';

/**
 * CPU and memory over time, per engine and for the controller, out of the snapshots the kernel relays
 * (one every 0.5-2 s). Bounded three ways: points older than `spanMs` go, each series keeps at most
 * `maxPoints`, and engines that left the snapshot (or stopped, or died) lose their series.
 */
export class ResourceHistory {
  private readonly _series = new Map<string, ResourceSeries & { points: ResourcePoint[] }>();
  private _lastTime = -1;

  constructor(
    readonly spanMs = 5 * 60_000,
    private readonly _maxPoints = 300,
    private readonly _maxSeries = 257
  ) {}

  /** Series in display order: the controller first, then engines by id. */
  get series(): readonly ResourceSeries[] {
    return [...this._series.values()].sort((a, b) => (a.engineId ?? -1) - (b.engineId ?? -1));
  }

  /** Adds the readings of a snapshot; false when it brought nothing new (the same snapshot twice). */
  add(snapshot: ClusterSnapshot): boolean {
    if (snapshot.time <= this._lastTime) return false;
    this._lastTime = snapshot.time;
    const live = new Set<string>();
    const { cpu, rss } = snapshot.controller;
    if (typeof cpu === 'number' && typeof rss === 'number') {
      this._push(CONTROLLER_KEY, null, undefined, { time: snapshot.time, cpu, rss });
      live.add(CONTROLLER_KEY);
    }
    for (const engine of snapshot.engines) {
      if (engine.state !== 'idle' && engine.state !== 'busy') continue;
      const key = `engine-${engine.id}`;
      const rank = typeof engine.metadata?.rank === 'number' ? engine.metadata.rank : undefined;
      if (this._push(key, engine.id, rank, { time: snapshot.time, cpu: engine.cpu, rss: engine.rss })) live.add(key);
    }
    for (const key of [...this._series.keys()]) if (!live.has(key)) this._series.delete(key);
    return true;
  }

  clear(): void {
    this._series.clear();
    this._lastTime = -1;
  }

  private _push(key: string, engineId: number | null, rank: number | undefined, point: ResourcePoint): boolean {
    let series = this._series.get(key);
    if (!series) {
      if (this._series.size >= this._maxSeries) return false;
      series = { key, engineId, points: [] };
      this._series.set(key, series);
    }
    if (rank !== undefined) series.rank = rank;
    series.points.push(point);
    const from = point.time - this.spanMs;
    let drop = 0;
    while (drop < series.points.length && series.points[drop]!.time < from) drop++;
    drop = Math.max(drop, series.points.length - this._maxPoints);
    if (drop > 0) series.points.splice(0, drop);
    return true;
  }
}
