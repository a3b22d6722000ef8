import { EncodedValue, isArrowTable } from "@conductor/sdk/protocol";
import { Code, ConnectError } from "@connectrpc/connect";
import { toJsonSafe } from "../cli/format-value.js";

/**
 * Values in the public API are JSON text, so browsers and curl read them as they are. Values JSON cannot carry
 * take the forms `toJsonSafe` gives them: `{ "$bytes": base64 }` and `{ "$table": { rows, columns, data } }`.
 */

/** JSON text of a value; `undefined` becomes `null`. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, replacer);
}

/** JSON text of an optional object of values (outputs, inputs, fields): empty when there is none. */
export function optionalJsonText(value: Record<string, unknown> | undefined): string {
  return value === undefined ? "" : jsonText(value);
}

// Only values that are not plain JSON go through toJsonSafe, because it decodes and re-parses: the common case
// (numbers, strings, plain objects) costs one JSON.stringify.
function replacer(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before its own toJSON ran (a Buffer's toJSON would hide that it is bytes).
  const original = (this as Record<string, unknown>)[key];
  if (typeof original === "bigint") return original.toString();
  if (typeof original === "object" && original !== null) {
    if (original instanceof EncodedValue || original instanceof Uint8Array || isArrowTable(original)) {
      return toJsonSafe(original);
    }
  }
  return value;
}

/**
 * Parses a JSON object given in a request (inputs): empty text is `{}`. Anything else fails with
 * INVALID_ARGUMENT naming the field.
 */
export function parseJsonObject(text: string, field: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConnectError(
      `${field} is not valid JSON: ${(error as Error).message}; expected a JSON object such as {"name": "value"}`,
      Code.InvalidArgument,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConnectError(
      `${field} must be a JSON object of input names to values, got ${Array.isArray(value) ? "an array" : typeof value === "object" ? "null" : `a ${typeof value}`}`,
      Code.InvalidArgument,
    );
  }
  return value as Record<string, unknown>;
}
