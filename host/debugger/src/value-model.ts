import { parseJson } from "@conductor/sdk/client";

/**
 * What the value inspector shows of a value, apart from drawing it: which values are tables and how their grid
 * looks, which strings and objects start folded, and how a number is written. Values arrive as the API's JSON text
 * (docs/api.md, "Values"): tables as `{"$table": {rows, columns, types, data}}` (a preview of the first rows for a
 * node's values), bytes as `{"$bytes": base64}`, large values as a handle `{"$ref", type, size, sha256}`.
 */

/** A string longer than this many characters (or with more than {@link FOLD_STRING_LINES} lines) starts folded. */
export const FOLD_STRING_CHARS = 160;
/** Lines of a string shown while it is folded. */
export const FOLD_STRING_LINES = 4;
/** An object or array whose JSON text is longer than this starts folded, below the top level. */
export const FOLD_JSON_CHARS = 240;
/** Rows a grid draws; the rest are counted, not drawn. */
export const GRID_ROWS = 200;

/**
 * Parses a `*_json` field for the inspector: integers beyond 2^53 - 1 become bigint with every digit (JSON.parse
 * would round 9007199254740993 to ...992). Text that is not JSON is kept as a string, so it is still shown.
 */
export function parseValueText(text: string): { value: unknown } | undefined {
  if (text === "") return undefined;
  try {
    return { value: parseJson(text) };
  } catch {
    return { value: text };
  }
}

/** A number as the inspector writes it: every digit of a bigint, a number as JavaScript writes it, never quoted. */
export function formatNumber(value: number | bigint): string {
  return typeof value === "bigint" ? value.toString() : String(value);
}

/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value handle, as a `*_json` field holds it for a value too large to travel inline. */
export interface HandleView {
  ref: string;
  type: string;
  size: number;
}

export function asHandle(value: unknown): HandleView | undefined {
  if (!isRecord(value) || typeof value.$ref !== "string") return undefined;
  const size = typeof value.size === "bigint" ? Number(value.size) : value.size;
  if (typeof size !== "number") return undefined;
  return { ref: value.$ref, type: typeof value.type === "string" ? value.type : "json", size };
}

/** Bytes as the API writes them: base64, with the full size and a mark when only the first bytes came. */
export interface BytesView {
  /** Bytes of the whole value. */
  size: number;
  /** Whether only the first bytes came (a node value's preview). */
  truncated: boolean;
  base64: string;
}

export function asBytes(value: unknown): BytesView | undefined {
  if (!isRecord(value) || typeof value.$bytes !== "string") return undefined;
  const base64 = value.$bytes;
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  const shown = Math.floor((base64.length * 3) / 4) - padding;
  return {
    size: typeof value.size === "number" ? value.size : shown,
    truncated: value.truncated === true,
    base64,
  };
}

export interface GridColumn {
  name: string;
  /** The Arrow type of a table's column (`int64`, `utf8`), or the JSON kind of a row array's column. */
  type: string;
}

/** A table as a grid: its columns with their types, the rows drawn, and how many rows the value has in all. */
export interface GridModel {
  /** "table" for an Arrow table, "rows" for an array of objects. */
  source: "table" | "rows";
  columns: GridColumn[];
  /** The rows drawn, one cell value per column (undefined where a row lacks the column). */
  rows: unknown[][];
  /** Rows of the whole value. */
  rowCount: number;
}

/**
 * The grid of a value that is a table: an Arrow table (`$table`) or a non-empty array of objects (rows, as
 * core.csv-parse gives them). Anything else is not a grid (undefined). At most `limit` rows are drawn.
 */
export function gridOf(value: unknown, limit = GRID_ROWS): GridModel | undefined {
  if (isRecord(value) && isRecord(value.$table)) {
    const table = value.$table;
    const data = Array.isArray(table.data) ? table.data.filter(isRecord) : [];
    const names = Array.isArray(table.columns)
      ? table.columns.map(String)
      : [...new Set(data.flatMap((row) => Object.keys(row)))];
    const types = Array.isArray(table.types) ? table.types.map(String) : [];
    const rowCount = typeof table.rows === "number" ? table.rows : data.length;
    return {
      source: "table",
      columns: names.map((name, index) => ({ name, type: types[index] ?? kindOfColumn(data, name) })),
      rows: data.slice(0, limit).map((row) => names.map((name) => row[name])),
      rowCount,
    };
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every(isRecord)) return undefined;
  const names = [...new Set(value.flatMap((row) => Object.keys(row as Record<string, unknown>)))];
  if (names.length === 0) return undefined;
  const rows = value as Record<string, unknown>[];
  return {
    source: "rows",
    columns: names.map((name) => ({ name, type: kindOfColumn(rows, name) })),
    rows: rows.slice(0, limit).map((row) => names.map((name) => row[name])),
    rowCount: rows.length,
  };
}

/**
 * The JSON kind of a row array's column: `integer`, `number`, `string`, `boolean`, `object`, `array`, or the kinds
 * it mixes joined by `|` (`integer|string`); `null` cells count only when the column holds nothing else, and a column
 * of integers and fractions is `number`.
 */
export function kindOfColumn(rows: Record<string, unknown>[], name: string): string {
  const kinds = new Set<string>();
  for (const row of rows) {
    if (name in row) kinds.add(kindOf(row[name]));
  }
  if (kinds.size > 1) kinds.delete("null");
  if (kinds.has("integer") && kinds.has("number")) kinds.delete("integer");
  return kinds.size === 0 ? "null" : [...kinds].sort().join("|");
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "bigint") return "integer";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** The text of one grid cell: numbers with every digit, text as it is, nested values as compact JSON. */
export function cellText(value: unknown): string {
  if (value === undefined) return "";
  if (value === null) return "null";
  if (typeof value === "number" || typeof value === "bigint") return formatNumber(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  return compactJson(value);
}

/** JSON text of a value on one line, bigints as their digits. */
export function compactJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === "bigint"
      ? (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(item.toString())
      : item,
  );
}

/** Whether a string starts folded: it is long, or has many lines. */
export function foldsString(text: string): boolean {
  return text.length > FOLD_STRING_CHARS || lineCount(text) > FOLD_STRING_LINES;
}

/** The start of a folded string: its first lines, at most {@link FOLD_STRING_CHARS} characters. */
export function foldedString(text: string): { shown: string; hidden: number } {
  let shown = text.slice(0, FOLD_STRING_CHARS);
  let end = -1;
  for (let line = 0; line < FOLD_STRING_LINES; line++) {
    end = shown.indexOf("\n", end + 1);
    if (end === -1) break;
  }
  if (end !== -1) shown = shown.slice(0, end);
  return { shown, hidden: text.length - shown.length };
}

function lineCount(text: string): number {
  let lines = 1;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) lines++;
  return lines;
}

/**
 * Whether an object or array starts folded: the top level (depth 0, a port's value) is open unless it is large;
 * deeper levels are open while they are small. Empty ones have nothing to fold.
 */
export function foldsByDefault(value: object, depth: number): boolean {
  const size = Array.isArray(value) ? value.length : Object.keys(value).length;
  if (size === 0) return false;
  const length = compactJson(value).length;
  return depth === 0 ? length > FOLD_JSON_CHARS * 8 : length > FOLD_JSON_CHARS;
}

/** What a folded object or array says of itself: `{3 keys}`, `[1 item]`. */
export function foldSummary(value: object): string {
  if (Array.isArray(value)) return `[${value.length} ${value.length === 1 ? "item" : "items"}]`;
  const keys = Object.keys(value).length;
  return `{${keys} ${keys === 1 ? "key" : "keys"}}`;
}

/** A number of bytes for people: "512 B", "64 KiB", "300 MiB". */
export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? Math.round(value) : Number(value.toFixed(1))} ${units[unit]}`;
}
