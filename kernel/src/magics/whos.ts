import { plainText } from "../output/repr.js";

const INFO_WIDTH = 60;

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "function") return /^class\b/.test(Function.prototype.toString.call(value)) ? "class" : "function";
  if (typeof value !== "object") return typeof value;
  return (value as object).constructor?.name ?? "Object";
}

function info(value: unknown): string {
  if (Array.isArray(value)) return `length ${value.length}`;
  if (value instanceof Map || value instanceof Set) return `size ${value.size}`;
  if (ArrayBuffer.isView(value) && "length" in value) return `length ${(value as { length: number }).length}`;
  const text = typeof value === "function" ? `${value.name || "anonymous"}(${(value as Function).length} parameters)` : plainText(value).replace(/\s*\n\s*/g, " ");
  return text.length > INFO_WIDTH ? `${text.slice(0, INFO_WIDTH - 3)}...` : text;
}

/** `%whos`: the notebook's variables as IPython lays them out (name, type, value or size). */
export function whos(scope: Record<string, unknown>): string {
  const names = Object.keys(scope).sort();
  if (names.length === 0) return "Interactive namespace is empty.\n";
  const rows = names.map((name) => [name, typeName(scope[name]), info(scope[name])] as const);
  const nameWidth = Math.max("Variable".length, ...rows.map((r) => r[0].length)) + 3;
  const typeWidth = Math.max("Type".length, ...rows.map((r) => r[1].length)) + 3;
  const header = `${"Variable".padEnd(nameWidth)}${"Type".padEnd(typeWidth)}Data/Info`;
  const lines = [header, "-".repeat(header.length + 6), ...rows.map(([n, t, i]) => `${n.padEnd(nameWidth)}${t.padEnd(typeWidth)}${i}`)];
  return `${lines.join("\n")}\n`;
}
