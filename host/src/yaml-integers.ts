import { isUnsafeInteger } from "@conductor/sdk/protocol";

/**
 * YAML read without changing any number: the `yaml` package reads every integer as a `bigint` (`intAsBigInt`),
 * and {@link safeIntegersAsNumbers} turns back into numbers those a JavaScript number holds exactly, so only
 * integers beyond 2^53 - 1 stay `bigint`, every digit kept, as `parseJsonText` gives them for JSON
 * (docs/decisions.md, "Integers beyond 2^53"). Use both wherever YAML holds values: blueprints, inputs files.
 */
export const EXACT_INTEGERS = { intAsBigInt: true } as const;

/** A `yaml` reviver keeping as `bigint` only the integers a number cannot hold exactly. */
export function safeIntegersAsNumbers(_key: unknown, value: unknown): unknown {
  return typeof value === "bigint" && !isUnsafeInteger(value) ? Number(value) : value;
}
