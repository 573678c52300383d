import ts = require("typescript");
import type { MimeBundle } from "../jupyter/messages.js";
import { documentationAt } from "./documentation.js";
import type { NotebookProgram } from "./notebook-program.js";

/** Positions worth asking about: the cursor, just before it, and the callee when inside `f(|`. */
function candidatePositions(code: string, position: number): number[] {
  const positions = [position, position - 1];
  let at = position - 1;
  while (at >= 0 && /\s/.test(code[at]!)) at--;
  if (code[at] === "(") {
    at--;
    while (at >= 0 && /\s/.test(code[at]!)) at--;
    positions.push(at);
  }
  return positions.filter((p) => p >= 0 && p <= code.length);
}

/** What the language service knows about the name at a position: its type and documentation. */
export function inspection(notebook: NotebookProgram, code: string, position: number): MimeBundle | null {
  notebook.setCell(code + "\n" + notebook.scope.carriedImports(new Set()));
  for (const at of candidatePositions(code, position)) {
    const info = notebook.service.getQuickInfoAtPosition(notebook.cellFile, at);
    if (!info) continue;
    const signature = ts.displayPartsToString(info.displayParts);
    const documentation = ts.displayPartsToString(info.documentation);
    const tags = (info.tags ?? []).map((tag) => `@${tag.name}${tag.text ? ` ${ts.displayPartsToString(tag.text)}` : ""}`);
    // The program parses without doc comments (notebook-program.ts), so they are read on request.
    const doc = [documentation, ...tags].filter(Boolean).join("\n") || documentationAt(notebook.service, notebook.cellFile, at);
    return {
      "text/plain": doc ? `${signature}\n\n${doc}` : signature,
      "text/markdown": `\`\`\`typescript\n${signature}\n\`\`\`${doc ? `\n\n${doc}` : ""}`,
    };
  }
  return null;
}
