import {
  bigintReplacement,
  bytesToBase64,
  EncodedValue,
  isArrowTable,
  loadArrow,
  parseJsonText,
  stringifyJson,
  toLive,
} from "@conductor/sdk/protocol";
import { blobPreview } from "./blob-preview.js";

/**
 * Makes a value printable as JSON, at any depth: bytes become `{ "$bytes": base64 }`, Arrow tables
 * `{ "$table": { rows, columns, types, data } }` (`types` holds each column's Arrow type, see {@link columnType}), values still in wire form their decoded value. Integers beyond 2^53 - 1
 * stay `bigint`, every digit kept: write the result with `stringifyJson` (or `JSON.stringify` with
 * {@link jsonSafeReplacer}), which prints them as JSON numbers.
 */
export function toJsonSafe(value: unknown): unknown {
  const live = toLive(value);
  if (live instanceof Uint8Array) return { $bytes: bytesToBase64(live) };
  if (isArrowTable(live)) {
    return {
      $table: {
        rows: live.numRows,
        columns: live.schema.fields.map((f) => f.name),
        types: live.schema.fields.map((f) => columnType(f.type)),
        // Rows may hold bigint (int64 columns): numbers in the JSON text, every digit kept.
        data: parseJsonText(JSON.stringify(live.toArray(), jsonSafeReplacer)),
      },
    };
  }
  if (typeof live === "bigint") return live;
  return parseJsonText(JSON.stringify(live ?? null, jsonSafeReplacer));
}

/**
 * The name of an Arrow column type as a table preview shows it: Arrow's own name in lower case (`int64`, `float64`,
 * `utf8`, `bool`, `timestamp<millisecond>`), and for a dictionary-encoded column the type of its values, because
 * the encoding is a detail of storage (pandas categories, Arrow's default for repeated strings).
 */
export function columnType(type: { toString(): string; dictionary?: unknown }): string {
  const { DataType } = loadArrow();
  const shown = DataType.isDictionary(type) ? type.dictionary : type;
  return String(shown).toLowerCase();
}

/**
 * A `JSON.stringify` replacer applying {@link toJsonSafe} to every value JSON cannot hold as it is, wherever it is
 * nested, and writing a bigint as its digits; plain JSON values pass through untouched, so the common case costs
 * one `JSON.stringify`.
 */
export function jsonSafeReplacer(this: unknown, key: string, value: unknown): unknown {
  // `this[key]` is the value before its own toJSON ran (a Buffer's toJSON would hide that it is bytes).
  const original = (this as Record<string, unknown>)[key];
  if (typeof original === "bigint") return bigintReplacement(original);
  if (
    typeof original === "object" &&
    original !== null &&
    (original instanceof EncodedValue || original instanceof Uint8Array || isArrowTable(original))
  ) {
    return bigintReplacement(toJsonSafe(original));
  }
  return value;
}

/** Formats an output for a person: text as is, tables as a short preview, other values as indented JSON. */
export function formatForPeople(value: unknown): string {
  const live = toLive(value);
  if (typeof live === "string") return live;
  if (live instanceof Uint8Array) return `<${live.byteLength} bytes>`;
  if (isArrowTable(live)) {
    const { DataType } = loadArrow();
    const fields = live.schema.fields;
    const columns = fields.map((field) => field.name);
    // Dates and timestamps come out of Arrow as milliseconds since the epoch: show them as ISO dates and times.
    const cell = (value: unknown, type: (typeof fields)[number]["type"]): string =>
      typeof value === "number" && DataType.isDate(type)
        ? new Date(value).toISOString().slice(0, 10)
        : typeof value === "number" && DataType.isTimestamp(type)
          ? new Date(value).toISOString()
          : String(value);
    const rows = live
      .toArray()
      .slice(0, 10)
      .map((row) => {
        const record = row.toJSON() as Record<string, unknown>;
        return fields.map((field) => cell(record[field.name], field.type));
      });
    const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells
        .map((text, i) => text.padEnd(widths[i]!))
        .join("  ")
        .trimEnd();
    const more = live.numRows > 10 ? `\n… ${live.numRows - 10} more rows` : "";
    return `Arrow table, ${live.numRows} rows × ${columns.length} columns\n${line(columns)}\n${rows.map(line).join("\n")}${more}`;
  }
  return stringifyJson(toJsonSafe(live), 2);
}

/** Characters of a value shown per port by {@link formatPortsForPeople} before it is cut. */
export const PORT_PREVIEW_CHARS = 400;

/**
 * Formats the values of a node's ports for a person, one port per line: each value as {@link formatForPeople}
 * gives it (tables as a short preview), cut after {@link PORT_PREVIEW_CHARS} characters with the size of the rest,
 * (or `limit`) so that a node that read a 70 KB file does not fill the terminal; a value recorded as a blob is
 * previewed from its first bytes (see {@link blobPreview}). `--json` gives the values whole.
 */
export function formatPortsForPeople(values: Record<string, unknown>, limit = PORT_PREVIEW_CHARS): string {
  return Object.entries(values)
    .map(([port, value]) => {
      // A large recorded value is a blob: previewed from its first bytes, never loaded whole.
      const preview = blobPreview(value, limit);
      if (preview !== undefined) return `${port}: ${indent(preview, 2)}`;
      let text = formatForPeople(value);
      if (text.length > limit && !isArrowTable(toLive(value))) {
        text = `${text.slice(0, limit)}… (${(text.length - limit).toLocaleString("en-US")} more characters)`;
      }
      return `${port}: ${indent(text, 2)}`;
    })
    .join("\n");
}

/** Indents every line after the first by `spaces` (empty lines stay empty). */
export function indent(text: string, spaces: number): string {
  return text.replace(/\n(?=.)/g, `\n${" ".repeat(spaces)}`);
}
