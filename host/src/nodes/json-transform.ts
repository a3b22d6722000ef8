import { defineNode, NodeFailure } from "@conductor/sdk";
import { parseJsonText, stringifyJson } from "@conductor/sdk/protocol";
import { z } from "zod";
import {
  compileExpression,
  DEFAULT_TIMEOUT_MS,
  describeExpressionError,
  type JsonataError,
} from "../expression.js";
import { portSchemas } from "./port-schemas.js";

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
      compileExpression(value.expression, value.timeoutMs);
    } catch (error) {
      ctx.addIssue({
        code: "custom",
        path: ["expression"],
        input: value.expression,
        message: `jsonata syntax error${describeExpressionError(error)}`,
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
    const expression = compileExpression(ctx.config.expression, ctx.config.timeoutMs);
    let result: unknown;
    try {
      result = await expression.evaluate(data);
    } catch (error) {
      const { code, position, token } = error as JsonataError;
      // Not retryable: the same expression on the same data fails the same way.
      throw new NodeFailure(`jsonata evaluation failed${describeExpressionError(error)}`, {
        type: code === "D1012" ? "json-transform.timeout" : "json-transform.evaluate",
        details: { code, position, token },
      });
    }
    // A round trip through JSON gives plain values: JSONata marks its result arrays with an extra "sequence"
    // property and may return functions, neither of which belongs in a port value. No match gives null.
    return {
      result: result === undefined ? null : parseJsonText(stringifyJson(result)),
    };
  },
});
