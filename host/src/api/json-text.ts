import { bytesToBase64, EncodedValue, isArrowTable, parseJsonText, toLive } from "@conductor/sdk/protocol";
import { Code, ConnectError } from "@connectrpc/connect";
import { jsonSafeReplacer as replacer, toJsonSafe } from "../cli/format-value.js";

/**
 * Values in the public API are JSON text, so browsers and curl read them as they are. Values JSON cannot carry
 * take the forms `toJsonSafe` gives them: `{ "$bytes": base64 }` and `{ "$table": { rows, columns, data } }`.
 * Integers beyond 2^53 - 1 are JSON numbers with every digit, both ways (docs/api.md, "Values").
 *
 * The values of single nodes (in events and in the per-node record) are previews: a table keeps its first
 * {@link PREVIEW_ROWS} rows and bytes their first {@link PREVIEW_BYTES}, marked `"truncated": true` with the full
 * `rows` / `size`, so that watching a run of a million-row table does not send a million rows per event. The
 * inputs and outputs of a whole execution are always complete.
 */

/** Rows of a table shown in a node value preview. */
export const PREVIEW_ROWS = 100;
/** Bytes shown in a node value preview. */
export const PREVIEW_BYTES = 64 * 1024;

/** JSON text of a value; `undefined` becomes `null`. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value, replacer);
}

/** JSON text of an optional object of values (outputs, inputs, fields): empty when there is none. */
export function optionalJsonText(value: Record<string, unknown> | undefined): string {
  return value === undefined ? "" : jsonText(value);
}

/** JSON text of a node's values, with large tables and bytes cut to a preview; empty when there are none. */
export function previewJsonText(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value, previewReplacer);
}

function previewReplacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  if (typeof original !== "object" || original === null) return replacer.call(this, key, value);
  const live = original instanceof EncodedValue ? toLive(original) : original;
  if (live instanceof Uint8Array && live.byteLength > PREVIEW_BYTES) {
    return {
      $bytes: bytesToBase64(live.subarray(0, PREVIEW_BYTES)),
      size: live.byteLength,
      truncated: true,
    };
  }
  if (isArrowTable(live) && live.numRows > PREVIEW_ROWS) {
    const head = toJsonSafe(live.slice(0, PREVIEW_ROWS)) as { $table: Record<string, unknown> };
    return { $table: { ...head.$table, rows: live.numRows, truncated: true } };
  }
  return live === original ? replacer.call(this, key, value) : replacer.call({ [key]: live }, key, live);
}

/**
 * Parses a JSON object given in a request (inputs): empty text is `{}`. Anything else fails with
 * INVALID_ARGUMENT naming the field.
 */
export function parseJsonObject(text: string, field: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = parseJsonText(text);
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
