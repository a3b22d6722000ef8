/**
 * The API carries values as JSON text (`*_json` fields). These helpers turn them into values and back; bytes and
 * Arrow tables arrive as `{ "$bytes": base64 }` and `{ "$table": { rows, columns, data } }`.
 */

/** Parses a `*_json` field; empty text (no value) gives `undefined`. */
export function parseJson(text: string): unknown {
  return text === "" ? undefined : (JSON.parse(text) as unknown);
}

/** Parses a `*_json` field that holds an object (inputs, outputs): empty text gives `{}`. */
export function parseJsonObject(text: string): Record<string, unknown> {
  const value = parseJson(text);
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** JSON text for a request field such as `inputsJson`. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}
