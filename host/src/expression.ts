import type jsonata from "jsonata";
import { platform } from "#platform";

/**
 * JSONata expressions (https://jsonata.org) as the built-in nodes use them: compiled once per distinct text and
 * time budget, with limits the evaluator enforces itself.
 */
export type Expression = jsonata.Expression;

export const DEFAULT_TIMEOUT_MS = 30_000;
/** Deepest nesting of evaluation an expression may reach; stops runaway recursion before it exhausts memory. */
const MAX_DEPTH = 1_000;
/** Most compiled expressions kept; a blueprint has a handful, so this only bounds a long-running host. */
const CACHE_SIZE = 256;

let compiler: typeof jsonata | undefined;
const compiled = new Map<string, Expression>();

/** A JSONata syntax error as the library throws it: a plain object, not an Error. */
export interface JsonataError {
  code?: string;
  position?: number;
  token?: string;
  message?: string;
}

/**
 * Compiles an expression once per distinct text and time budget. Loaded synchronously on first use, because config
 * validation (a zod refinement) is synchronous, and lazily, because most runs never need JSONata.
 */
export function compileExpression(expression: string, timeoutMs: number): Expression {
  const key = `${timeoutMs}\u0000${expression}`;
  let found = compiled.get(key);
  if (found === undefined) {
    compiler ??= platform.loadJsonata();
    // The evaluator checks these limits itself, because a runaway expression keeps the event loop busy with
    // microtasks, so no timer (and no abort signal) could interrupt it.
    found = compiler(expression, { timeout: timeoutMs, stack: MAX_DEPTH });
    if (compiled.size >= CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, found);
  }
  return found;
}

/** E.g. ` at position 3: Expected ")" before end of expression`, to follow a short summary. */
export function describeExpressionError(error: unknown): string {
  const { message, position } = error as JsonataError;
  const text = message ?? String(error);
  return position === undefined ? `: ${text}` : ` at position ${position}: ${text}`;
}
