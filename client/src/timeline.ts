import type { TaskMetadata } from "./async-result.js";

/** The MIME type JupyterLab's built-in Vega renderer shows. */
export const VEGA_LITE_MIME = "application/vnd.vegalite.v5+json";
/** How an object shows itself in a notebook (the kernel's MIME_BUNDLE). */
export const MIME_BUNDLE: unique symbol = Symbol.for("jupyter.mimebundle") as never;

export interface TimelineTask {
  task: number;
  engine: string;
  /** Milliseconds from the first task's start. */
  start: number;
  end: number;
  status: string;
}

/** A chart shown by Jupyter (its MIME bundle), with its Vega-Lite spec and the tasks it draws. */
export interface Timeline {
  readonly spec: Record<string, unknown>;
  readonly tasks: TimelineTask[];
  [MIME_BUNDLE](): Record<string, unknown>;
}

/**
 * The tasks of an AsyncResult as bars per engine over time (engine clocks: started to completed;
 * a running task ends now). Tasks that have not started are left out.
 */
export function taskTimeline(metadata: readonly TaskMetadata[], title = "tasks per engine"): Timeline {
  let origin = Infinity;
  for (const m of metadata) if (m.started !== undefined && m.started < origin) origin = m.started;
  const now = Date.now();
  const tasks: TimelineTask[] = [];
  metadata.forEach((m, task) => {
    if (m.started === undefined) return;
    tasks.push({
      task,
      engine: m.engineId === null ? "unassigned" : `engine ${m.engineId}`,
      start: m.started - origin,
      end: Math.max(m.started, m.completed ?? now) - origin,
      status: m.status ?? "running",
    });
  });
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    width: 600,
    data: { values: tasks },
    mark: { type: "bar", tooltip: true },
    encoding: {
      y: { field: "engine", type: "nominal", title: null },
      x: { field: "start", type: "quantitative", title: "ms since the first task started" },
      x2: { field: "end" },
      color: { field: "status", type: "nominal" },
    },
  };
  const engines = new Set(tasks.map((t) => t.engine)).size;
  const span = tasks.reduce((longest, t) => Math.max(longest, t.end), 0);
  return {
    spec,
    tasks,
    [MIME_BUNDLE]: () => ({ [VEGA_LITE_MIME]: spec, "text/plain": `<timeline: ${tasks.length} tasks on ${engines} engines over ${Math.round(span)} ms>` }),
  };
}
