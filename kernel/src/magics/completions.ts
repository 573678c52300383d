import type { CompletionResult } from "../typescript/completions.js";
import { MAGICS, magicDoc } from "./magic-docs.js";

export const LINE_MAGICS = MAGICS.filter((m) => m.line).map((m) => m.name);
export const CELL_MAGICS = MAGICS.filter((m) => m.cell).map((m) => m.name);

type Complete = (code: string, position: number) => CompletionResult;

function result(matches: string[], start: number, end: number, type: string): CompletionResult {
  return { matches, start, end, types: matches.map((text) => ({ start, end, text, type })) };
}

/** TypeScript completion of `code` that sits at `offset` in the cell, in the cell's positions. */
function shifted(complete: Complete, code: string, position: number, offset: number): CompletionResult {
  const inner = complete(code, position - offset);
  return {
    matches: inner.matches,
    start: inner.start + offset,
    end: inner.end + offset,
    types: inner.types.map((t) => ({ ...t, start: t.start + offset, end: t.end + offset })),
  };
}

/**
 * Completion in a cell with magics: magic names after `%`/`%%`, a magic's flags after `-`, and
 * TypeScript for the code a magic runs (`%px CODE`, a `%%px` body) or the TypeScript between
 * line magics, as if the magic lines were not there.
 */
export function magicCompletions(code: string, position: number, complete: Complete): CompletionResult {
  const lineStart = code.lastIndexOf("\n", position - 1) + 1;
  const lineEnd = code.indexOf("\n", position) === -1 ? code.length : code.indexOf("\n", position);
  const line = code.slice(lineStart, lineEnd);
  const before = code.slice(lineStart, position);

  const name = /^\s*(%%?)(\w*)$/.exec(before);
  if (name) {
    const [, percent, prefix] = name as unknown as [string, string, string];
    const names = (percent === "%%" ? CELL_MAGICS : LINE_MAGICS).filter((n) => n.startsWith(prefix)).map((n) => `${percent}${n}`);
    return result(names, position - prefix.length - percent.length, position, "magic");
  }

  const magic = /^(\s*%%?)(\w+)(\s+)/.exec(line);
  if (magic && before.length >= magic[0].length) {
    const doc = magicDoc(magic[2]!);
    const isCell = magic[1]!.trimStart() === "%%";
    const word = /(\S*)$/.exec(before)![1]!;
    if (doc && word.startsWith("-")) {
      // A line magic that runs code takes no flags of its own but its help (and %timeit's -n, -r).
      const offered = isCell || !doc.takesCode ? doc.flags : doc.name === "timeit" ? ["-n", "-r"] : [];
      const flags = [...offered, "--help"].filter((f) => f.startsWith(word));
      if (flags.length > 0 || isCell || !doc.takesCode) return result(flags, position - word.length, position, "flag");
    }
    if (doc?.takesCode && !isCell) {
      // The line's code starts after the magic's flags.
      const flagsPart = /^(?:-[nr](?:\s+|=)\S+\s+)*/.exec(line.slice(magic[0].length))![0];
      const offset = lineStart + magic[0].length + (doc.name === "timeit" ? flagsPart.length : 0);
      return shifted(complete, code.slice(offset, lineEnd), position, offset);
    }
    return result([], position, position, "flag");
  }

  const firstLine = /^(\s*%%(\w+)[^\n]*\n)/.exec(code);
  if (firstLine && position >= firstLine[1]!.length) {
    const doc = magicDoc(firstLine[2]!);
    if (doc?.takesCode) return shifted(complete, code.slice(firstLine[1]!.length), position, firstLine[1]!.length);
  }
  // Line magics among TypeScript lines: blanked (same length) so positions stay.
  const blanked = code.replace(/^[ \t]*%[^\n]*$/gm, (text) => " ".repeat(text.length));
  return complete(blanked, position);
}
