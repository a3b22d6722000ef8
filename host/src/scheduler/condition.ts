/**
 * Evaluates a node's `when` condition: a JSONata expression over the node's inputs (port names are fields), e.g.
 * `amount > 100` or `$exists(override)`. JSONata is loaded and each expression compiled once, on first use.
 */
type Expression = { evaluate(input: unknown): Promise<unknown> };

let jsonata: ((expression: string) => Expression) | undefined;
const compiled = new Map<string, Expression>();

async function compile(expression: string): Promise<Expression> {
  let result = compiled.get(expression);
  if (result === undefined) {
    jsonata ??= (await import("jsonata")).default as unknown as (expression: string) => Expression;
    result = jsonata(expression);
    compiled.set(expression, result);
  }
  return result;
}

/** Whether the condition holds for these inputs: JSONata's result, where undefined, null, false, 0 and "" are false. */
export async function conditionHolds(expression: string, inputs: Record<string, unknown>): Promise<boolean> {
  const value = await (await compile(expression)).evaluate(inputs);
  return Boolean(value);
}

/** Gives the syntax error of an expression, or undefined when it compiles. */
export async function conditionError(expression: string): Promise<string | undefined> {
  try {
    await compile(expression);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
