import { UsageError } from "./usage-error.js";

/** Splits a magic's argument line like a shell: spaces separate, quotes group. */
export function tokenize(line: string): string[] {
  const tokens: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const match of line.matchAll(pattern)) tokens.push(match[1] ?? match[2] ?? match[3] ?? "");
  return tokens;
}

/** A flag: `value` flags take the next token (or `=value`); `set` flags store a constant. */
export type FlagSpec<T> =
  | { names: string[]; key: keyof T; set: T[keyof T] }
  | { names: string[]; key: keyof T; value: (text: string) => T[keyof T]; metavar: string };

/** Parses flags into a partial options object; what is not a flag is returned as positional arguments. */
export function parseFlags<T extends object>(line: string, specs: FlagSpec<T>[], magic: string): { options: Partial<T>; positional: string[] } {
  const options: Partial<T> = {};
  const positional: string[] = [];
  const tokens = tokenize(line);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (!token.startsWith("-") || /^-\d/.test(token)) {
      positional.push(token);
      continue;
    }
    const [name, inline] = token.includes("=") ? [token.slice(0, token.indexOf("=")), token.slice(token.indexOf("=") + 1)] : [token, undefined];
    const spec = specs.find((s) => s.names.includes(name!));
    if (!spec) throw new UsageError(`%${magic}: unknown option ${name} (options: ${specs.map((s) => s.names.join("/")).join(", ")})`);
    if ("set" in spec) {
      if (inline !== undefined) throw new UsageError(`%${magic}: ${name} takes no value`);
      options[spec.key] = spec.set;
      continue;
    }
    const text = inline ?? tokens[++i];
    if (text === undefined) throw new UsageError(`%${magic}: ${name} needs a value (${spec.metavar})`);
    options[spec.key] = spec.value(text);
  }
  return { options, positional };
}
