import { isArrowTable, toLive } from "@conductor/sdk/protocol";

/** Makes a value printable as JSON: bytes become base64, Arrow tables become their rows, bigint a string. */
export function toJsonSafe(value: unknown): unknown {
  const live = toLive(value);
  if (live instanceof Uint8Array) return { $bytes: Buffer.from(live).toString("base64") };
  if (isArrowTable(live))
    return {
      $table: {
        rows: live.numRows,
        columns: live.schema.fields.map((f) => f.name),
        data: live.toArray().map((row) => row.toJSON()),
      },
    };
  return JSON.parse(
    JSON.stringify(live ?? null, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
  );
}

/** Formats an output for a person: text as is, tables as a short preview, other values as indented JSON. */
export function formatForPeople(value: unknown): string {
  const live = toLive(value);
  if (typeof live === "string") return live;
  if (live instanceof Uint8Array) return `<${live.byteLength} bytes>`;
  if (isArrowTable(live)) {
    const columns = live.schema.fields.map((field) => field.name);
    const rows = live
      .toArray()
      .slice(0, 10)
      .map((row) => columns.map((c) => String(row.toJSON()[c])));
    const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join("  ");
    const more = live.numRows > 10 ? `\n… ${live.numRows - 10} more rows` : "";
    return `Arrow table, ${live.numRows} rows × ${columns.length} columns\n${line(columns)}\n${rows.map(line).join("\n")}${more}`;
  }
  return JSON.stringify(toJsonSafe(live), null, 2);
}
