import type { JupyterContents } from "../jupyter/messages.js";
import { codePointsToUtf16, utf16ToCodePoints } from "../jupyter/unicode.js";
import type { TypeScriptCells } from "../execution/typescript-cells.js";
import type { History } from "../history.js";
import { magicCompletions } from "../magics/completions.js";

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

export function inspect(cells: TypeScriptCells, request: JupyterContents["inspect_request"]): Reply<"inspect_reply"> {
  const data = cells.inspect(request.code, codePointsToUtf16(request.code, request.cursor_pos));
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
