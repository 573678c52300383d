import type { JupyterContents } from "../jupyter/messages.js";
import { codePointsToUtf16, utf16ToCodePoints } from "../jupyter/unicode.js";
import type { TypeScriptCells } from "../execution/typescript-cells.js";
import type { History } from "../history.js";
import { magicCompletions } from "../magics/completions.js";
import { magicDoc } from "../magics/magic-docs.js";

type Reply<T extends keyof JupyterContents> = JupyterContents[T];

export function complete(cells: TypeScriptCells, request: JupyterContents["complete_request"]): Reply<"complete_reply"> {
  const { code, cursor_pos } = request;
  const position = codePointsToUtf16(code, cursor_pos);
  const result = magicCompletions(code, position, (text, at) => cells.complete(text, at));
  return {
    status: "ok",
    matches: result.matches,
    cursor_start: utf16ToCodePoints(code, result.start),
    cursor_end: utf16ToCodePoints(code, result.end),
    metadata: {
      _jupyter_types_experimental: result.types.map((t) => ({ ...t, start: utf16ToCodePoints(code, t.start), end: utf16ToCodePoints(code, t.end) })),
    },
  };
}

/** The usage of the magic whose name the cursor is on (`%px`, `%%time`), as inspect shows it. */
function magicInspection(code: string, position: number): Record<string, unknown> | null {
  const lineStart = code.lastIndexOf("\n", position - 1) + 1;
  const match = /^\s*%%?(\w+)/.exec(code.slice(lineStart));
  if (!match || position > lineStart + match[0].length) return null;
  const doc = magicDoc(match[1]!);
  return doc ? { "text/plain": doc.usage, "text/markdown": `\`\`\`\n${doc.usage}\n\`\`\`` } : null;
}

export function inspect(cells: TypeScriptCells, request: JupyterContents["inspect_request"]): Reply<"inspect_reply"> {
  const position = codePointsToUtf16(request.code, request.cursor_pos);
  const data = magicInspection(request.code, position) ?? cells.inspect(request.code, position);
  return { status: "ok", found: data !== null, data: data ?? {}, metadata: {} };
}

export async function completeness(request: JupyterContents["is_complete_request"]): Promise<Reply<"is_complete_reply">> {
  // Loaded on first use: it needs the TypeScript scanner, which the kernel loads after it is ready.
  const { isComplete } = await import("../typescript/is-complete.js");
  return isComplete(typeof request.code === "string" ? request.code : "");
}

export function history(store: History, request: JupyterContents["history_request"]): Reply<"history_reply"> {
  return { status: "ok", history: store.query(request) };
}
