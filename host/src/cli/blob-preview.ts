import {
  BlobRef_Encoding,
  bigintReplacement,
  EncodedValue,
  loadArrow,
  readBlobHead,
} from "@conductor/sdk/protocol";

/**
 * A preview, for people, of a value stored as a blob (a large value in the journal's blob directory), read from
 * the blob's first bytes only: a 200 MB value is previewed without loading it. JSON text shows its beginning (a
 * string as text), bytes their size, an Arrow table its columns and first rows when they fit in the part read.
 * Undefined for a value that is not a blob, which the caller formats as usual. Use it wherever a recorded value
 * is shown cut to a preview.
 */
export function blobPreview(value: unknown, limit: number): string | undefined {
  if (!(value instanceof EncodedValue) || value.wire.kind.case !== "blob") return undefined;
  const ref = value.wire.kind.value;
  const size = Number(ref.size);
  const described = `${size.toLocaleString("en-US")} bytes`;
  if (ref.encoding === BlobRef_Encoding.RAW) return `<${size} bytes>`;
  let head: Uint8Array;
  try {
    // `limit` characters of JSON text take at most 6 bytes each (escaped as \uXXXX in a string); a table's
    // schema and first rows usually fit in 4 MiB.
    head = readBlobHead(ref.uri, ref.encoding === BlobRef_Encoding.ARROW ? 4 << 20 : limit * 6 + 8);
  } catch (error) {
    return `<a blob of ${described} that cannot be read: ${(error as Error).message}>`;
  }
  if (ref.encoding === BlobRef_Encoding.ARROW) return tablePreview(head, described);
  return `${jsonPreview(new TextDecoder().decode(head), limit)}… (${described} of JSON in all)`;
}

/** The beginning of JSON text: a string's text when it is one, else the text as it is, cut at `limit`. */
function jsonPreview(text: string, limit: number): string {
  // A character cut in two at the end of what was read decodes as U+FFFD: drop it.
  const read = text.replace(/\uFFFD$/, "");
  if (read.startsWith('"')) {
    // Close the string to read its escapes; an escape cut in two at the end is dropped first.
    const closed = `${read.slice(0, limit * 2 + 1).replace(/\\(u[0-9a-fA-F]{0,3})?$/, "")}"`;
    try {
      return (JSON.parse(closed) as string).slice(0, limit);
    } catch {
      return read.slice(0, limit);
    }
  }
  return read.slice(0, limit);
}

/** An Arrow table's columns and first rows, from the first bytes of its IPC stream. */
function tablePreview(head: Uint8Array, described: string): string {
  const { RecordBatchReader } = loadArrow();
  try {
    const reader = RecordBatchReader.from(head);
    reader.open();
    const columns = reader.schema.fields.map((field) => field.name);
    let rows: string[] = [];
    try {
      const first = reader.next();
      if (first.done !== true) {
        rows = first.value
          .toArray()
          .slice(0, 10)
          .map((row) =>
            // An int64 cell is a bigint: written as its digits, a number like the others, not a quoted string.
            JSON.stringify(row.toJSON(), (_key, cell: unknown) => bigintReplacement(cell)),
          );
      }
    } catch {
      // The first batch goes on past what was read: the columns alone then.
    }
    return `Arrow table (${described}), columns ${columns.join(", ")}${rows.length === 0 ? "" : `\n${rows.join("\n")}\n…`}`;
  } catch {
    return `<Arrow table, ${described}>`;
  }
}
