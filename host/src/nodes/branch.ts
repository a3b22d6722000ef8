import { defineNode, NodeFailure } from "@conductor/sdk";
import { z } from "zod";
import { compileExpression, DEFAULT_TIMEOUT_MS, describeExpressionError } from "../expression.js";
import { portSchemas } from "./port-schemas.js";

const condition = z
  .object({
    condition: z
      .string()
      .min(1)
      .describe(
        'A JSONata expression over the node\'s inputs, e.g. "value > 100" or "value.status = \'ok\'".',
      ),
  })
  .superRefine((value, ctx) => {
    try {
      compileExpression(value.condition, DEFAULT_TIMEOUT_MS);
    } catch (error) {
      ctx.addIssue({
        code: "custom",
        path: ["condition"],
        input: value.condition,
        message: `jsonata syntax error${describeExpressionError(error)}`,
      });
    }
  });

async function holds(expression: string, value: unknown): Promise<boolean> {
  try {
    return Boolean(await compileExpression(expression, DEFAULT_TIMEOUT_MS).evaluate(value));
  } catch (error) {
    throw new NodeFailure(`condition "${expression}" failed${describeExpressionError(error)}`, {
      type: "branch.condition",
    });
  }
}

/**
 * Chooses a branch at run time: passes its input to `true` when the condition holds, to `false` otherwise. Only one
 * of the two ports gets a value, so the nodes reading the other are skipped (and so are the nodes after them),
 * while a node reading both optionally (a join) runs with the branch that ran.
 */
export const branch = defineNode({
  type: "core.if",
  title: "If",
  description:
    'Sends "value" to "true" when the condition holds, to "false" otherwise; the nodes reading the other port are skipped.',
  config: condition,
  input: { value: portSchemas.anyValue().describe("The value tested and passed on.") },
  output: {
    true: z.unknown().optional().describe("The value, when the condition holds."),
    false: z.unknown().optional().describe("The value, when it does not."),
  },
  flags: { deterministic: true, idempotent: true },
  run: async ({ value }, ctx) =>
    (await holds(ctx.config.condition, { value })) ? { true: value } : { false: value },
});
