import type { Widget } from '@lumino/widgets';
import type { StatusModel } from './model/status-model.js';

/** One part of the dashboard (progress, task stream, resources, logs), contributed by its own plugin. */
export interface DashboardSection {
  id: string;
  /** Order on the dashboard, smallest first. */
  rank: number;
  /** A new widget for a new dashboard; it draws the model and redraws on its own `changed`. */
  create(model: StatusModel): Widget;
  /** Whether the widget must also redraw as the clock moves (the task stream's running bars), while shown. */
  ticks?: boolean;
}

/** The sections a new dashboard is made of; plugins add theirs as they start. */
export class DashboardSections {
  private readonly _sections: DashboardSection[] = [];

  add(section: DashboardSection): void {
    if (this._sections.some(s => s.id === section.id)) throw new Error(`dashboard section ${section.id} is already registered`);
    this._sections.push(section);
    this._sections.sort((a, b) => a.rank - b.rank);
  }

  get all(): readonly DashboardSection[] {
    return this._sections;
  }
}
