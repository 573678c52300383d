/** A cell cut into what runs where: TypeScript, line magics, a cell magic, or a `name?` help request. */
export type Segment =
  | { kind: "code"; code: string }
  | { kind: "line-magic"; name: string; args: string }
  | { kind: "cell-magic"; name: string; args: string; body: string }
  | { kind: "help"; expression: string };

const LINE_MAGIC = /^\s*%(\w+)\s?(.*)$/;
const CELL_MAGIC = /^\s*%%(\w+)\s?(.*)$/;
const HELP = /^\s*([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\?\s*$/;

/**
 * Splits a cell as IPython reads one: `%%name args` on the first line makes the whole cell a cell
 * magic; otherwise each `%name args` line is a line magic, run in order between the TypeScript
 * around it. (A TypeScript line cannot start with `%`.)
 */
export function splitCell(code: string): Segment[] {
  const lines = code.split("\n");
  const first = lines.findIndex((line) => line.trim() !== "");
  if (first >= 0) {
    const cell = CELL_MAGIC.exec(lines[first]!);
    if (cell) return [{ kind: "cell-magic", name: cell[1]!, args: cell[2]!.trim(), body: lines.slice(first + 1).join("\n") }];
  }
  const help = HELP.exec(code);
  if (help) return [{ kind: "help", expression: help[1]! }];
  const segments: Segment[] = [];
  let pending: string[] = [];
  const flush = () => {
    if (pending.some((line) => line.trim() !== "")) segments.push({ kind: "code", code: pending.join("\n") });
    pending = [];
  };
  for (const line of lines) {
    const magic = LINE_MAGIC.exec(line);
    if (magic && !line.trimStart().startsWith("%%")) {
      flush();
      segments.push({ kind: "line-magic", name: magic[1]!, args: magic[2]!.trim() });
      // Keep line numbers of later code as in the cell.
      pending.push("");
    } else {
      pending.push(line);
    }
  }
  flush();
  return segments;
}
