import { CST, Lexer } from "yaml";

/**
 * The bounds every blueprint is checked against before the host spends time or memory on it. A blueprint comes
 * from a file of the project, but also from any caller of the API (`document` in a request), so a document that is
 * too large, nested too deeply or expanding aliases without end must be refused with a clear error rather than
 * exhaust the host's stack, memory or event loop. Each bound is far above what a hand-written or generated
 * blueprint needs (the largest example of this repository has 12 nodes and nests 6 levels).
 */
export interface BlueprintLimits {
  /** Most bytes of blueprint text (UTF-8), checked before parsing. */
  maxBytes: number;
  /** Most levels of nesting (mappings and lists inside each other), checked before parsing. */
  maxDepth: number;
  /** Most nodes in one blueprint. */
  maxNodes: number;
  /**
   * Most alias expansions (`*anchor`), in the `yaml` library's measure: each alias counts the nodes it expands to,
   * so a "billion laughs" document is refused long before it expands.
   */
  maxAliasCount: number;
}

/** The limits used when none are given: 4 MiB, 64 levels, 10,000 nodes, 100 alias expansions. */
export const DEFAULT_BLUEPRINT_LIMITS: Readonly<BlueprintLimits> = Object.freeze({
  maxBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxNodes: 10_000,
  maxAliasCount: 100,
});

/** Where a limit was passed, for the message. */
export interface LimitExceeded {
  message: string;
  line?: number;
  column?: number;
}

/**
 * The nesting depth of YAML (or JSON) text, measured from its tokens without building the document, so that a
 * document of a million `[` is refused in one pass of the lexer instead of overflowing the parser's recursion or
 * allocating a gigabyte of syntax tree. Block nesting is counted from indentation (each more-indented line, and
 * content after a `-` or `?` indicator on the same line, opens a level; a plain list item counts one level more than
 * it holds, which only errs on the safe side); flow nesting from brackets. Gives the first
 * place where `maxDepth` is exceeded, or undefined.
 */
export function findExcessiveDepth(text: string, maxDepth: number): LimitExceeded | undefined {
  const indents: number[] = [];
  let flowDepth = 0;
  let line = 1;
  let column = 0;
  let lineHasContent = false;
  let compactPending = false;
  let scalarNext = false;
  const open = (at: number) => {
    while (indents.length > 0 && indents[indents.length - 1]! > at) indents.pop();
    if (indents.length === 0 || indents[indents.length - 1]! < at) indents.push(at);
  };
  for (const token of new Lexer().lex(text)) {
    // Control tokens of the lexer (document start, scalar marker, flow error) take no room in the text.
    if (token === "\x02" || token === "\x18") continue;
    if (token === "\x1f") {
      scalarNext = true;
      continue;
    }
    const type = scalarNext ? "scalar" : CST.tokenType(token);
    scalarNext = false;
    if (type === "newline") {
      line++;
      column = 0;
      lineHasContent = false;
      compactPending = false;
      continue;
    }
    if (flowDepth === 0 && type !== "space" && type !== "comment" && type !== "byte-order-mark") {
      // A line's first content opens a level at its indentation, and so does content right after `- ` or `? `
      // (a compact nested collection, as in `- - x` or `- key: value`).
      if (!lineHasContent || compactPending) open(column);
      compactPending = type === "seq-item-ind" || type === "explicit-key-ind";
      lineHasContent = true;
    }
    if (type === "flow-seq-start" || type === "flow-map-start") flowDepth++;
    else if ((type === "flow-seq-end" || type === "flow-map-end") && flowDepth > 0) flowDepth--;
    const depth = indents.length + flowDepth;
    if (depth > maxDepth) {
      return {
        message: `the blueprint nests deeper than ${maxDepth} levels (mappings and lists inside each other); flatten it`,
        line,
        column: column + 1,
      };
    }
    const lastNewline = token.lastIndexOf("\n");
    if (lastNewline === -1) column += token.length;
    else {
      for (let i = 0; i < token.length; i++) if (token.charCodeAt(i) === 10) line++;
      column = token.length - lastNewline - 1;
      lineHasContent = column > 0;
    }
  }
  return undefined;
}
