/**
 * The time range a zoomable task stream shows: `span` ms ending at `end`, or at the clock's now while
 * `live` (a live window slides; a paused one stays where the user put it). Zoom and pan are bounded: a
 * window from MIN_SPAN_MS to MAX_SPAN_MS, never ending after now (panning past now goes live again).
 */
export const MIN_SPAN_MS = 1_000;
export const MAX_SPAN_MS = 10 * 60_000;

export class TimeWindow {
  private _span: number;
  private _end = 0;
  private _live = true;

  constructor(readonly defaultSpan = 30_000) {
    this._span = defaultSpan;
  }

  get span(): number {
    return this._span;
  }

  get live(): boolean {
    return this._live;
  }

  /** Where the window ends, given the clock's now. */
  end(now: number): number {
    return this._live ? now : Math.min(this._end, now);
  }

  /**
   * Zooms by `factor` (< 1 in, > 1 out) around the point at `anchor` (0: the left edge, 1: the right
   * edge), which stays where it is on screen. A live window zoomed around its right edge stays live.
   */
  zoom(factor: number, now: number, anchor = 1): void {
    const span = Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, this._span * factor));
    if (span === this._span) return;
    const end = this.end(now);
    const at = end - this._span * (1 - anchor);
    this._span = span;
    if (this._live && anchor >= 1) return;
    this._setEnd(at + span * (1 - anchor), now);
  }

  /** Moves the window by `ms` (negative: to earlier times); it stops following the clock. */
  pan(ms: number, now: number): void {
    this._setEnd(this.end(now) + ms, now);
  }

  /** Puts the window's end at `end` (a drag: relative to where it began); past now it goes live. */
  panTo(end: number, now: number): void {
    this._setEnd(end, now);
  }

  /** Stops following the clock where it is now (to look at something without it sliding away). */
  pause(now: number): void {
    this._live = false;
    this._end = now;
  }

  /** Back to following the clock, at the span the user chose. */
  goLive(): void {
    this._live = true;
  }

  /** The default span, live. */
  reset(): void {
    this._span = this.defaultSpan;
    this._live = true;
  }

  private _setEnd(end: number, now: number): void {
    if (end >= now) {
      this._live = true;
      return;
    }
    this._live = false;
    this._end = end;
  }
}
