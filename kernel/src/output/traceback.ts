import { types, inspect } from "node:util";
import type { ErrorContent } from "../jupyter/messages.js";
import { remoteFrames } from "./remote-frames.js";
import { cellSources, type MappedPosition } from "./cell-sources.js";
import { shippedFunctions } from "./shipped-functions.js";

const RED = "\u001b[31m";
const GREEN = "\u001b[32m";
const RESET = "\u001b[0m";
/** Frames of the kernel's and the client library's machinery, which say nothing about the user's code. */
const INTERNAL_FRAME = /node:internal|node:vm|\/(kernel|client|protocol)\/dist\/|node_modules\/(tsparallel|@tsparallel)\/|__tsparallel_kernel__/;
const CELL_POSITION = /(cell\[\d+\]):(\d+):(\d+)/;
/** At most this many frames are shown, innermost first. */
const MAX_FRAMES = 30;

function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/**
 * A frame in a cell, with its TypeScript position, then the line it points at with a marker;
 * null for the kernel's own call of the cell. Frames elsewhere stay as they are.
 */
function frameLines(frame: string): string[] | null {
  const match = CELL_POSITION.exec(frame);
  if (!match) return [frame];
  const [whole, file, line, column] = match as unknown as [string, string, string, string];
  const position = cellSources.position(file, Number(line), Number(column));
  if (position === "kernel") return null;
  if (position === null) return [frame];
  return withSource(frame.replace(whole, `${file}:${position.line}:${position.column}`), position);
}

const SHIPPED_POSITION = /<function ([^>]*)>:(\d+):(\d+)/;

/** A frame in a notebook function run on an engine, at its cell's TypeScript position, then that line with a marker. */
function shippedFrameLines(frame: string): string[] {
  const match = /^\s+at /.test(frame) ? SHIPPED_POSITION.exec(frame) : null;
  if (!match) return [frame];
  const [whole, name, line, column] = match as unknown as [string, string, string, string];
  const mapped = shippedFunctions.position(name, Number(line), Number(column));
  if (!mapped) return [frame];
  return withSource(frame.replace(whole, `${mapped.cell}:${mapped.position.line}:${mapped.position.column}`), mapped.position);
}

function withSource(located: string, position: MappedPosition): string[] {
  if (position.source === undefined) return [located];
  const gutter = `${position.line}`;
  return [
    located,
    `${GREEN}  ${gutter} |${RESET} ${position.source}`,
    `${" ".repeat(gutter.length + 2)} | ${" ".repeat(Math.max(0, position.column - 1))}${RED}^${RESET}`,
  ];
}

/** Engine tracebacks shown for a CompositeError, as ipyparallel does; then "... N more exceptions". */
const SHOWN_REMOTE_ERRORS = 4;

interface RemoteLike {
  engineId?: number;
  ename?: string;
  evalue?: string;
  traceback?: unknown;
}

/** The engine's own traceback of an error that came back from one (RemoteError): its frames, not the client library's. */
function remoteLines(err: RemoteLike): string[] {
  if (!Array.isArray(err.traceback)) return [];
  const engine = err.engineId === undefined ? "engine" : `engine ${err.engineId}`;
  return [`[${engine}] ${RED}${err.ename ?? "Error"}${RESET}: ${err.evalue ?? ""}`, ...remoteFrames(err.traceback as unknown[]).flatMap(shippedFrameLines)];
}

function remoteSection(err: Error): string[] {
  const errors = (err as Error & { errors?: unknown }).errors;
  if (Array.isArray(errors)) {
    const lines = errors.slice(0, SHOWN_REMOTE_ERRORS).flatMap((e) => remoteLines(e as RemoteLike));
    if (errors.length > SHOWN_REMOTE_ERRORS) lines.push(`... ${errors.length - SHOWN_REMOTE_ERRORS} more exceptions`);
    return lines;
  }
  return remoteLines(err as RemoteLike);
}

/**
 * A Jupyter error for something a cell threw: the error line, then the frames outside the kernel,
 * each in a cell named by its TypeScript line and column and followed by that line, then, for an
 * error that came back from engines, each engine's own traceback. A thrown
 * value that is not an Error is shown as it is (`Uncaught { code: 42 }`).
 */
export function runtimeError(err: unknown): ErrorContent {
  if (!isError(err)) {
    const shown = typeof err === "string" ? err : inspect(err, { depth: 4, breakLength: 100 });
    return { ename: "Uncaught", evalue: shown, traceback: [`${RED}Uncaught${RESET} ${shown}`] };
  }
  const ename = err.name || "Error";
  const evalue = typeof err.message === "string" ? err.message : String(err.message);
  const stack = typeof err.stack === "string" ? err.stack.split("\n") : [];
  const frames = stack.filter((line) => /^\s+at /.test(line) && !INTERNAL_FRAME.test(line)).slice(0, MAX_FRAMES);
  const shown: string[] = [];
  for (const frame of frames) shown.push(...(frameLines(frame) ?? []));
  return { ename, evalue, traceback: [`${RED}${ename}${RESET}: ${evalue}`, ...shown, ...remoteSection(err)] };
}
