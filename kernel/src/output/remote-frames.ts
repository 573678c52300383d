/** A frame of an engine's stack, or a source line an engine showed under one (`  2 | code`, `    |   ^`). */
const FRAME = /^\s+at /;
const SOURCE_LINE = /^\s+(\d+ )?\| /;

/** The frames of an engine's traceback, each with the TypeScript line and marker the engine put under it. */
export function remoteFrames(traceback: readonly unknown[]): string[] {
  return traceback
    .filter((line): line is string => typeof line === "string" && (FRAME.test(line) || SOURCE_LINE.test(line)))
    .map((line) => (FRAME.test(line) ? `    ${line.trim()}` : `  ${line}`));
}
