/**
 * JSON text in and out without changing any number: an integer beyond 2^53 - 1 (`Number.MAX_SAFE_INTEGER`), which
 * a JavaScript number cannot hold exactly, is read as a `bigint` with every digit, and a `bigint` is written as its
 * digits. Use these instead of `JSON.parse` / `JSON.stringify` wherever a port value, a config or an input is read
 * or written, so that 9007199254740993 stays 9007199254740993 from a blueprint to a Python or Rust node and back
 * (docs/decisions.md, "Integers beyond 2^53"). Every other number stays a `number`, so ordinary JSON costs what
 * `JSON.parse` costs.
 */

/** `JSON.rawJSON` (Node ≥ 21): a value `JSON.stringify` writes as the given text. */
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** An integer literal as JSON writes one: optional minus, digits, no fraction or exponent. */
const INTEGER_LITERAL = /^-?\d+$/;

/**
 * Because every integer beyond 2^53 - 1 has at least 16 digits, text without a run of 16 digits cannot hold one,
 * and is parsed by the plain (and much faster) `JSON.parse`.
 */
const LONG_DIGIT_RUN = /\d{16}/;

/** The reviver keeping every digit: `context.source` is the literal's own text (Node ≥ 21). */
function exactIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (
    typeof value === "number" &&
    !Number.isSafeInteger(value) &&
    context?.source !== undefined &&
    INTEGER_LITERAL.test(context.source)
  ) {
    return BigInt(context.source);
  }
  return value;
}

/**
 * Parses JSON text like `JSON.parse`, except that an integer literal beyond 2^53 - 1 (in either direction) becomes
 * a `bigint` holding exactly the digits written. Throws a SyntaxError for text that is not JSON.
 */
export function parseJsonText(text: string): unknown {
  if (!LONG_DIGIT_RUN.test(text)) return JSON.parse(text);
  return JSON.parse(text, exactIntegers as (key: string, value: unknown) => unknown);
}

/** Whether a number or bigint is an integer JavaScript numbers cannot hold exactly (beyond 2^53 - 1). */
export function isUnsafeInteger(value: unknown): value is bigint {
  return typeof value === "bigint" && (value > MAX_SAFE || value < -MAX_SAFE);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function bigintAsDigits(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? rawJson(value.toString()) : value;
}

/**
 * JSON text of a value like `JSON.stringify`, except that a `bigint` (wherever it is nested) is written as its
 * digits instead of throwing. A value JSON cannot write at the top (`undefined`, a function) gives `null`.
 */
export function stringifyJson(value: unknown, space?: number): string {
  try {
    return JSON.stringify(value, null, space) ?? "null";
  } catch (error) {
    // Because a bigint is the usual reason JSON.stringify throws and the replacer costs on every value, the plain
    // call goes first; anything else (a cycle) throws again from the second call, with its own message.
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, bigintAsDigits, space) ?? "null";
  }
}

/**
 * A `JSON.stringify` replacer writing bigints as their digits, for callers that have their own replacer: call it
 * on the value the own replacer returns.
 */
export function bigintReplacement(value: unknown): unknown {
  return typeof value === "bigint" ? rawJson(value.toString()) : value;
}
