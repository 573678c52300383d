import { Panel } from '@lumino/widgets';
import type { StatusModel } from '../model/status-model.js';

/** How often a panel on screen redraws what moves with the clock (ages, running task bars). */
const TICK_MS = 500;

/**
 * A panel that draws a StatusModel: it redraws when the model changes or it is shown again, and keeps a
 * clock-driven redraw only while it is on screen and asks for one; hidden or detached, no timer at all.
 */
export abstract class ModelPanel extends Panel {
  private _ticker: ReturnType<typeof setInterval> | null = null;

  constructor(protected readonly _model: StatusModel) {
    super();
  }

  /** Draws the model's current view; calls `keepTicking` to say whether the clock matters now. */
  protected abstract refresh(): void;

  /** The redraw of what moves with the clock. */
  protected abstract tick(): void;

  /** Call at the end of the subclass's constructor, once its parts exist. */
  protected watchModel(): void {
    this._model.changed.connect(this.refresh, this);
    this.refresh();
  }

  protected keepTicking(wanted: boolean): void {
    if (wanted && this.isVisible) this._ticker ??= setInterval(() => this.tick(), TICK_MS);
    else this._stopTicker();
  }

  override dispose(): void {
    this._stopTicker();
    this._model.changed.disconnect(this.refresh, this);
    super.dispose();
  }

  protected override onAfterShow(): void {
    this.refresh();
  }

  protected override onAfterHide(): void {
    this._stopTicker();
  }

  protected override onBeforeDetach(): void {
    this._stopTicker();
  }

  private _stopTicker(): void {
    if (this._ticker !== null) clearInterval(this._ticker);
    this._ticker = null;
  }
}
