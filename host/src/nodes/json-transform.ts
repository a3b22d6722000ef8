import { createRequire } from "node:module";
import { defineNode, NodeFailure } from "@conductor/sdk";
import type jsonata from "jsonata";
import { z } from "zod";
import { portSchemas } from "./port-schemas.js";

type Expression = jsonata.Expression;

const DEFAULT_TIMEOUT_MS = 30_000;
/** Deepest nesting of evaluation an expression may reach; stops runaway recursion before it exhausts memory. */
const MAX_DEPTH = 1_000;
/** Most compiled expressions kept; a blueprint has a handful, so this only bounds a long-running host. */
const CACHE_SIZE = 256;

let compiler: typeof jsonata | undefined;
const compiled = new Map<string, Expression>();

/** A JSONata syntax error as the library throws it: a plain object, not an Error. */
interface JsonataError {
  code?: string;
  position?: number;
  token?: string;
  message?: string;
}

/**
 * Compiles an expression once per distinct text and time budget. Loaded synchronously on first use, because config
 * validation (a zod refinement) is synchronous, and lazily, because most runs never need JSONata.
 */
function compile(expression: string, timeoutMs: number): Expression {
  const key = `${timeoutMs}\u0000${expression}`;
  let found = compiled.get(key);
  if (found === undefined) {
    compiler ??= createRequire(import.meta.url)("jsonata") as typeof jsonata;
    // The evaluator checks these limits itself, because a runaway expression keeps the event loop busy with
    // microtasks, so no timer (and no abort signal) could interrupt it.
    found = compiler(expression, { timeout: timeoutMs, stack: MAX_DEPTH });
    if (compiled.size >= CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, found);
  }
  return found;
}

/** E.g. ` at position 3: Expected ")" before end of expression`, to follow a short summary. */
function describeError(error: unknown): string {
  const { message, position } = error as JsonataError;
  const text = message ?? String(error);
  return position === undefined ? `: ${text}` : ` at position ${position}: ${text}`;
}

const config = z
  .object({
    expression: z.string().min(1).describe('A JSONata expression evaluated against the input "data".'),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .default(DEFAULT_TIMEOUT_MS)
      .describe("Longest time one evaluation may take, in milliseconds."),
  })
  .superRefine((value, ctx) => {
    try {
      compile(value.expression, value.timeoutMs);
    } catch (error) {
      ctx.addIssue({
        code: "custom",
        path: ["expression"],
        input: value.expression,
        message: `jsonata syntax error${describeError(error)}`,
      });
    }
  });

/**
 * Reshapes JSON with a JSONata expression (https://jsonata.org): select, filter, aggregate and restructure without
 * writing a node. The expression is checked when the blueprint is validated, so a typo is reported before anything
 * runs. Marked deterministic: an expression that calls `$now()`, `$millis()` or `$random()` is not, and should not
 * be cached.
 */
export const jsonTransform = defineNode({
  type: "core.json-transform",
  title: "JSON transform",
  description: 'Evaluates a JSONata expression against the input "data"; gives null when it matches nothing.',
  config,
  input: { data: portSchemas.anyValue().describe("The JSON value the expression is evaluated against.") },
  output: { result: z.unknown().describe("The expression's result, as plain JSON.") },
  flags: { deterministic: true, idempotent: true },
  run: async ({ data }, ctx) => {
    const expression = compile(ctx.config.expression, ctx.config.timeoutMs);
    let result: unknown;
    try {
      result = await expression.evaluate(data);
    } catch (error) {
      const { code, position, token } = error as JsonataError;
      // Not retryable: the same expression on the same data fails the same way.
      throw new NodeFailure(`jsonata evaluation failed${describeError(error)}`, {
        type: code === "D1012" ? "json-transform.timeout" : "json-transform.evaluate",
        details: { code, position, token },
      });
    }
    // A round trip through JSON gives plain values: JSONata marks its result arrays with an extra "sequence"
    // property and may return functions, neither of which belongs in a port value. No match gives null.
    return {
      result: result === undefined ? null : (JSON.parse(JSON.stringify(result) ?? "null") as unknown),
    };
  },
});
