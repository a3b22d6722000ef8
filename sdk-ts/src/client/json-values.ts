/**
 * The API carries values as JSON text (`*_json` fields). These helpers turn them into values and back; bytes and
 * Arrow tables arrive as `{ "$bytes": base64 }` and `{ "$table": { rows, columns, data } }`.
 */
import { parseJsonText, stringifyJson } from "../protocol/json-text.js";

/**
 * Parses a `*_json` field; empty text (no value) gives `undefined`. An integer beyond 2^53 - 1 becomes a bigint
 * with every digit (a number could not hold it).
 */
export function parseJson(text: string): unknown {
  return text === "" ? undefined : parseJsonText(text);
}

/** Parses a `*_json` field that holds an object (inputs, outputs): empty text gives `{}`. */
export function parseJsonObject(text: string): Record<string, unknown> {
  const value = parseJson(text);
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** JSON text for a request field such as `inputsJson`; a bigint is written as its digits. */
export function toJson(value: unknown): string {
  return stringifyJson(value ?? null);
}
