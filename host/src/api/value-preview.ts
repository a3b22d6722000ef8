import { loadArrow } from "@conductor/sdk/protocol";
import { Code, ConnectError } from "@connectrpc/connect";
import { jsonSafeReplacer, toJsonSafe } from "../cli/format-value.js";
import { PREVIEW_BYTES, PREVIEW_ROWS } from "./json-text.js";
import type { ValueBytes } from "./value-handles.js";

/**
 * `PreviewValue`: a bounded preview of a value by handle, for a client that shows values (the debugger's grid)
 * without downloading them. A table is read as a stream of record batches, one held at a time: the first rows are
 * kept, the rest only counted, so a 300 MB table previews in the memory of one batch. Bytes and JSON text give
 * their first {@link PREVIEW_BYTES} bytes. The preview takes the forms node values take (docs/api.md, "Values").
 */

/** The most rows a preview may ask for. */
export const MAX_PREVIEW_ROWS = 1000;

/** The JSON text of the preview of `bytes`, with at most `rows` rows of a table (0: {@link PREVIEW_ROWS}). */
export async function previewValueJson(bytes: ValueBytes, rows: number): Promise<string> {
  if (rows > MAX_PREVIEW_ROWS) {
    throw new ConnectError(
      `rows is ${rows}, more than the limit of ${MAX_PREVIEW_ROWS}; read the whole value with ReadValue`,
      Code.InvalidArgument,
    );
  }
  if (bytes.type === "table") return tablePreview(bytes, rows === 0 ? PREVIEW_ROWS : rows);
  const head = await firstBytes(bytes, PREVIEW_BYTES);
  const truncated = head.byteLength < bytes.size;
  if (bytes.type === "bytes") {
    return JSON.stringify({ $bytes: head.toString("base64"), size: bytes.size, truncated });
  }
  // A character cut in two at the end decodes as U+FFFD: dropped.
  const text = head.toString("utf8").replace(/\uFFFD$/, "");
  return JSON.stringify({ $json: text, size: bytes.size, truncated });
}

async function tablePreview(bytes: ValueBytes, limit: number): Promise<string> {
  const { RecordBatchReader, Table } = loadArrow();
  let reader: Awaited<ReturnType<typeof RecordBatchReader.from>>;
  try {
    reader = await RecordBatchReader.from(bytes.chunks());
    await reader.open();
  } catch (error) {
    throw new ConnectError(
      `the table's Arrow IPC stream does not read: ${(error as Error).message}`,
      Code.DataLoss,
    );
  }
  const kept: InstanceType<typeof Table>["batches"] = [];
  let keptRows = 0;
  let total = 0;
  for await (const batch of reader) {
    total += batch.numRows;
    if (keptRows < limit && batch.numRows > 0) {
      const part = batch.numRows > limit - keptRows ? batch.slice(0, limit - keptRows) : batch;
      kept.push(part);
      keptRows += part.numRows;
    }
  }
  const head = kept.length === 0 ? new Table(reader.schema) : new Table(kept);
  const safe = toJsonSafe(head) as { $table: Record<string, unknown> };
  return JSON.stringify(
    { $table: { ...safe.$table, rows: total, truncated: total > keptRows } },
    jsonSafeReplacer,
  );
}

async function firstBytes(bytes: ValueBytes, limit: number): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  let read = 0;
  for await (const chunk of bytes.chunks()) {
    const part = chunk.byteLength > limit - read ? chunk.subarray(0, limit - read) : chunk;
    parts.push(part);
    read += part.byteLength;
    if (read >= limit) break;
  }
  return Buffer.concat(parts);
}
