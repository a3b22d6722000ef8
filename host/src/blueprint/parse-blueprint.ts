import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node as YamlNode,
} from "yaml";
import { ConductorError, type Diagnostic } from "../errors.js";
import { EXACT_INTEGERS, safeIntegersAsNumbers } from "../yaml-integers.js";
import { type BlueprintLimits, DEFAULT_BLUEPRINT_LIMITS, findExcessiveDepth } from "./blueprint-limits.js";
import { blueprintSchema, type ParsedBlueprintDocument } from "./blueprint-schema.js";
import { describeFormatIssue } from "./format-issue.js";

/** A blueprint read from a file (or given as data), checked against the file format but not yet validated. */
export interface LoadedBlueprint {
  id: string;
  /** Where it came from, for messages; `<inline>` when given as data. */
  source: string;
  document: ParsedBlueprintDocument;
}

/**
 * Parses blueprint text (YAML or JSON; JSON is YAML) within {@link BlueprintLimits}: size and nesting are checked
 * before parsing, alias expansion while converting, the number of nodes before the format is checked. Duplicate
 * keys (a node id given twice) are errors, which a plain JSON.parse would silently hide by keeping the last one.
 * Every problem is a {@link ConductorError} with diagnostics, never another exception.
 */
export function parseBlueprint(
  text: string,
  source = "<inline>",
  limits: Partial<BlueprintLimits> = {},
): LoadedBlueprint {
  const bounds = { ...DEFAULT_BLUEPRINT_LIMITS, ...limits };
  // Because a UTF-16 length is at least a third of the UTF-8 length, most texts need no count of their bytes.
  if (text.length * 3 > bounds.maxBytes) {
    const bytes = utf8ByteLength(text);
    if (bytes > bounds.maxBytes) throw tooLarge(source, bytes, bounds.maxBytes);
  }
  const deep = findExcessiveDepth(text, bounds.maxDepth);
  if (deep !== undefined) {
    throw unreadable(source, [
      { path: "", message: `${deep.message} (line ${deep.line}, column ${deep.column})` },
    ]);
  }
  const lineCounter = new LineCounter();
  // Because the yaml library's own `uniqueKeys` check compares every key of a mapping with every other (quadratic in
  // the nodes of a blueprint: with it, 16,000 nodes parsed four times slower than without, 40,000 did not finish in
  // 200 s), duplicates are found here with one set per mapping.
  // Integers beyond 2^53 - 1 (a `{ value: … }` literal, a config field) keep every digit, as bigint.
  const document = parseDocument(text, {
    uniqueKeys: false,
    prettyErrors: true,
    lineCounter,
    ...EXACT_INTEGERS,
  });
  if (document.errors.length > 0) {
    const diagnostics = document.errors.map((error): Diagnostic => {
      const line = error.linePos?.[0];
      const where = line === undefined ? "" : ` (line ${line.line}, column ${line.col})`;
      return {
        path: "",
        message: `${lowercaseFirst(error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""))}${where}`,
      };
    });
    throw unreadable(source, diagnostics);
  }
  const duplicates = duplicateKeys(document, text, lineCounter);
  if (duplicates.length > 0) throw unreadable(source, duplicates);
  let data: unknown;
  try {
    data = document.toJS({ maxAliasCount: bounds.maxAliasCount, reviver: safeIntegersAsNumbers });
  } catch (error) {
    throw unreadable(source, [aliasDiagnostic(error as Error, document, lineCounter, bounds.maxAliasCount)]);
  }
  const nodes = (data as { nodes?: unknown } | null)?.nodes;
  if (typeof nodes === "object" && nodes !== null) {
    const count = Object.keys(nodes).length;
    if (count > bounds.maxNodes) {
      throw new ConductorError(
        "blueprint_invalid",
        `blueprint ${source} has ${count} nodes, more than the limit of ${bounds.maxNodes}; split it into sub-blueprints`,
        {
          diagnostics: [
            {
              path: "nodes",
              message: `${count} nodes, more than the limit of ${bounds.maxNodes}`,
              suggestion: "split the blueprint into sub-blueprints (blueprint.<id> node types)",
            },
          ],
        },
      );
    }
  }
  return fromData(data, source);
}

/** Checks data against the blueprint file format. */
export function fromData(data: unknown, source = "<inline>"): LoadedBlueprint {
  const parsed = blueprintSchema.safeParse(data);
  if (!parsed.success) {
    const diagnostics = parsed.error.issues.map((issue) => describeFormatIssue(issue, data));
    throw new ConductorError(
      "blueprint_invalid",
      `blueprint ${source} does not follow the blueprint/v1 format:\n${diagnostics.map((d) => `  ${d.path || "(blueprint)"}: ${d.message}`).join("\n")}`,
      { diagnostics },
    );
  }
  const id = parsed.data.id ?? (source === "<inline>" ? "blueprint" : fileName(source).replace(/\..*$/, ""));
  return { id, source, document: parsed.data };
}

/** The yaml library's messages start with a capital; the host's are lowercase. */
function lowercaseFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function unreadable(source: string, diagnostics: Diagnostic[]): ConductorError {
  return new ConductorError(
    "blueprint_unreadable",
    `blueprint ${source} is not valid YAML or JSON:\n${diagnostics.map((d) => `  ${d.message}`).join("\n")}`,
    { diagnostics },
  );
}

/** The error for a blueprint text or file over the byte limit. */
export function tooLarge(source: string, bytes: number, maxBytes: number): ConductorError {
  const message = `the blueprint is ${bytes} bytes, more than the limit of ${maxBytes} bytes; split it into sub-blueprints, or pass large values as inputs`;
  return new ConductorError("blueprint_unreadable", `blueprint ${source}: ${message}`, {
    diagnostics: [{ path: "", message }],
  });
}

/**
 * Every key given twice in one mapping, with its line. Walks the document with a stack (not recursion) and one set
 * per mapping, so the cost is linear in the document.
 */
function duplicateKeys(document: Document, text: string, lines: LineCounter): Diagnostic[] {
  const found: (Diagnostic & { offset: number })[] = [];
  const pending: unknown[] = [document.contents];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key)) {
          const name = String(key.value);
          if (seen.has(name)) {
            const start = key.range?.[0] ?? 0;
            const end = key.range?.[1];
            const at = lines.linePos(start);
            const written = end === undefined ? name : text.slice(start, end).trim();
            found.push({
              offset: start,
              path: "",
              message: `duplicate key "${written}" (line ${at.line}, column ${at.col}): every node id, port and field may appear once`,
            });
          }
          seen.add(name);
        } else if (key !== null) pending.push(key);
        pending.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) pending.push(item);
    }
  }
  // The stack visits the document out of order; report in the order of the text.
  return found.sort((a, b) => a.offset - b.offset).map(({ offset: _, ...diagnostic }) => diagnostic);
}

/** A problem the yaml library found while expanding aliases, in words, with the place of the alias. */
function aliasDiagnostic(
  error: Error,
  document: Document,
  lines: LineCounter,
  maxAliasCount: number,
): Diagnostic {
  if (/Excessive alias count/.test(error.message)) {
    return {
      path: "",
      message: `the blueprint expands aliases (*name) more than the limit of ${maxAliasCount} allows (each alias counts the values it repeats); write the values out, or use fewer aliases`,
    };
  }
  const unresolved = /Unresolved alias.*: \*?(\S+)/.exec(error.message);
  if (unresolved !== null) {
    const name = unresolved[1]!;
    const start = findAlias(document, name)?.range?.[0];
    const at = start === undefined ? undefined : lines.linePos(start);
    return {
      path: "",
      message: `alias "*${name}"${at === undefined ? "" : ` (line ${at.line}, column ${at.col})`} names no anchor "&${name}" defined before it`,
    };
  }
  return { path: "", message: `the blueprint's YAML cannot be read: ${error.message}` };
}

function findAlias(document: Document, name: string): YamlNode | undefined {
  const pending: unknown[] = [document.contents];
  while (pending.length > 0) {
    const node = pending.pop();
    if (isAlias(node) && node.source === name) return node;
    if (isMap(node)) for (const pair of node.items) pending.push(pair.key, pair.value);
    else if (isSeq(node)) for (const item of node.items) pending.push(item);
  }
  return undefined;
}

/** The last part of a path, either separator: this module runs in pages too, where there is no node:path. */
function fileName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
}

/** The length of a text in UTF-8, counted without encoding it (a page has no Buffer.byteLength). */
function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code < 0xdc00 && index + 1 < text.length) {
      // A surrogate pair: one code point of four bytes.
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        bytes += 4;
        index++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
