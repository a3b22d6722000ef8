import { compileExpression, DEFAULT_TIMEOUT_MS } from "../expression.js";

/**
 * Evaluates a node's `when` condition: a JSONata expression over the node's inputs (port names are fields), e.g.
 * `amount > 100` or `$exists(override)`. Undefined, null, false, 0 and "" are false.
 */
export async function conditionHolds(expression: string, inputs: Record<string, unknown>): Promise<boolean> {
  return Boolean(await compileExpression(expression, DEFAULT_TIMEOUT_MS).evaluate(inputs));
}

/** Gives the syntax error of an expression, or undefined when it compiles. */
export function conditionError(expression: string): string | undefined {
  try {
    compileExpression(expression, DEFAULT_TIMEOUT_MS);
    return undefined;
  } catch (error) {
    return (error as { message?: string }).message ?? String(error);
  }
}
