import {
  BlobRef_Encoding,
  createSha256,
  EncodedValue,
  isArrowTable,
  readBlobChunks,
  tableToIpc,
} from "@conductor/sdk/protocol";
import { jsonText, previewJsonText } from "./json-text.js";

/**
 * Values too large to travel inline in a `*_json` field of the API travel by handle: the field holds
 * `{"$ref": "<ref>", "type": "json" | "bytes" | "table", "size": <bytes>, "sha256": "<hex>"}` in place of the
 * value, and `ReadValue` streams the bytes the handle describes. So an execution that outputs 300 MB answers
 * `RunExecution` with a few hundred bytes, and the host never builds the 400 MB of JSON text (base64 for bytes)
 * that carrying the value inline would take. A value that came from a runtime as a blob file is described from its
 * reference alone and streamed from the file.
 */

/** Values above this many bytes (as JSON text, bytes or Arrow IPC) travel by handle. */
export const HANDLE_BYTES = 1024 * 1024;

/** The bytes of a value as `ReadValue` streams them, with what the handle says of them. */
export interface ValueBytes {
  type: "json" | "bytes" | "table";
  size: number;
  /** Computed on demand: hashing 300 MB costs a second, and a blob's reference already has it. */
  sha256(): string;
  /** The bytes in chunks of at most {@link CHUNK_BYTES}. */
  chunks(): AsyncIterable<Uint8Array>;
}

/** The most bytes in one `ReadValue` message: under gRPC's default 4 MiB message limit. */
export const CHUNK_BYTES = 1024 * 1024;

/** A handle as it appears in a `*_json` field. */
export interface ValueHandleJson {
  $ref: string;
  type: ValueBytes["type"];
  size: number;
  sha256: string;
}

/**
 * JSON text of an object of values (an execution's inputs or outputs, a node's), each value larger than `limit`
 * replaced by its handle under `<refPrefix>/<name>`. With `preview`, the smaller values of a node are previews
 * (see json-text.ts). Empty text for undefined.
 */
export function valuesJsonText(
  values: Record<string, unknown> | undefined,
  refPrefix: string,
  options: { limit?: number; preview?: boolean } = {},
): string {
  if (values === undefined) return "";
  const limit = options.limit ?? HANDLE_BYTES;
  const pieces: string[] = [];
  for (const name of Object.keys(values)) {
    const value = values[name];
    if (value === undefined) continue;
    pieces.push(
      `${JSON.stringify(name)}:${valueText(value, `${refPrefix}/${name}`, limit, options.preview === true)}`,
    );
  }
  return `{${pieces.join(",")}}`;
}

/**
 * The JSON text of one value: the value (or its preview), or its handle when it is larger than `limit`. Each value
 * is written to text once, as before handles, unless it turns out to be large.
 */
function valueText(value: unknown, ref: string, limit: number, preview: boolean): string {
  const encoded = encodedSize(value);
  if (encoded !== undefined) {
    if (encoded > limit) return JSON.stringify(handleJson(ref, valueBytes(value)));
    return preview ? previewJsonText(value) : jsonText(value);
  }
  const text = preview ? previewJsonText(value) : jsonText(value);
  if (text.length <= limit) return text;
  // A preview cuts bytes and tables; the handle describes the whole value's JSON text.
  const full = preview ? jsonText(value) : text;
  return full.length > limit ? JSON.stringify(handleJson(ref, valueBytes(value, full))) : text;
}

/** The size of a value that is bytes already (encoded, a byte array), without encoding it; else undefined. */
function encodedSize(value: unknown): number | undefined {
  if (value instanceof EncodedValue) {
    const kind = value.wire.kind;
    if (kind.case === "blob") return Number(kind.value.size);
    return kind.case === undefined ? 0 : kind.value.byteLength;
  }
  if (value instanceof Uint8Array) return value.byteLength;
  return undefined;
}

/** The handle of a value under `ref`. */
export function handleJson(ref: string, bytes: ValueBytes): ValueHandleJson {
  return { $ref: ref, type: bytes.type, size: bytes.size, sha256: bytes.sha256() };
}

/**
 * The bytes of any value: a blob's file, the wire bytes of an encoded value, a byte array, an Arrow table's IPC
 * stream, or the JSON text of anything else (`text`, when the caller has it already).
 */
export function valueBytes(value: unknown, text?: string): ValueBytes {
  if (value instanceof EncodedValue) {
    const kind = value.wire.kind;
    if (kind.case === "blob") {
      const ref = kind.value;
      return {
        type: typeOfEncoding(ref.encoding),
        size: Number(ref.size),
        sha256: () => ref.sha256,
        chunks: () => readBlobChunks(ref.uri, CHUNK_BYTES),
      };
    }
    if (kind.case === "json") return inMemory("json", kind.value);
    if (kind.case === "raw") return inMemory("bytes", kind.value);
    if (kind.case === "arrow") return inMemory("table", kind.value);
  }
  if (value instanceof Uint8Array) return inMemory("bytes", value);
  if (isArrowTable(value)) return inMemory("table", tableToIpc(value));
  return inMemory("json", new TextEncoder().encode(text ?? jsonText(value)));
}

function inMemory(type: ValueBytes["type"], bytes: Uint8Array): ValueBytes {
  let digest: string | undefined;
  return {
    type,
    size: bytes.byteLength,
    sha256: () => {
      digest ??= createSha256().update(bytes).digestHex();
      return digest;
    },
    async *chunks() {
      for (let offset = 0; offset < bytes.byteLength; offset += CHUNK_BYTES) {
        yield bytes.subarray(offset, Math.min(offset + CHUNK_BYTES, bytes.byteLength));
      }
    },
  };
}

function typeOfEncoding(encoding: BlobRef_Encoding): ValueBytes["type"] {
  if (encoding === BlobRef_Encoding.JSON) return "json";
  if (encoding === BlobRef_Encoding.ARROW) return "table";
  return "bytes";
}
