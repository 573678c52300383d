import ts = require("typescript");

/** Files parsed again with their doc comments, newest last (inspect asks about a few at a time). */
const KEPT_FILES = 8;
const parsed = new Map<string, ts.SourceFile>();

/**
 * The notebook's program skips doc comments when it parses (`JSDocParsingMode.ParseForTypeInfo`:
 * a sixth less work and memory for the 3 MB of library declarations a kernel loads at start), so
 * the documentation that inspect shows is read here instead, on request: the file that declares
 * the name is parsed again with its comments, and the declaration at the same place gives them.
 */
export function documentationAt(service: ts.LanguageService, fileName: string, position: number): string {
  const program = service.getProgram();
  for (const definition of service.getDefinitionAtPosition(fileName, position) ?? []) {
    const source = program?.getSourceFile(definition.fileName);
    if (!source) continue;
    const declaration = declarationNamedAt(withDocComments(source), definition.textSpan.start);
    if (!declaration) continue;
    const text = docText(declaration);
    if (text) return text;
  }
  return "";
}

function withDocComments(source: ts.SourceFile): ts.SourceFile {
  const key = source.fileName;
  const known = parsed.get(key);
  if (known && known.text === source.text) {
    parsed.delete(key);
    parsed.set(key, known);
    return known;
  }
  const file = ts.createSourceFile(key, source.text, { languageVersion: source.languageVersion, jsDocParsingMode: ts.JSDocParsingMode.ParseAll }, true);
  parsed.delete(key);
  parsed.set(key, file);
  if (parsed.size > KEPT_FILES) parsed.delete(parsed.keys().next().value!);
  return file;
}

/** The declaration whose name starts at `start`. */
function declarationNamedAt(file: ts.SourceFile, start: number): ts.Node | undefined {
  let found: ts.Node | undefined;
  const visit = (node: ts.Node): void => {
    if (found || start < node.pos || start >= node.end) return;
    const name = (node as { name?: ts.Node }).name;
    if (name && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name) || ts.isStringLiteral(name)) && name.getStart(file) === start) {
      found = node;
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

function docText(declaration: ts.Node): string {
  const lines: string[] = [];
  for (const doc of ts.getJSDocCommentsAndTags(declaration)) {
    if (ts.isJSDoc(doc)) {
      const comment = ts.getTextOfJSDocComment(doc.comment);
      if (comment) lines.push(comment);
      for (const tag of doc.tags ?? []) lines.push(tagText(tag));
    } else {
      lines.push(tagText(doc));
    }
  }
  return lines.join("\n");
}

function tagText(tag: ts.JSDocTag): string {
  const name = ts.isJSDocParameterTag(tag) ? ` ${tag.name.getText()}` : "";
  const comment = ts.getTextOfJSDocComment(tag.comment);
  return `@${tag.tagName.text}${name}${comment ? ` ${comment}` : ""}`;
}
