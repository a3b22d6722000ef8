import type { ConductorClient } from "./create-client.js";

/**
 * A value too large to travel inline, as it appears in a `*_json` field of the API in place of the value: read its
 * bytes with {@link readValue}. `type` says how to read them: `json` is UTF-8 JSON text, `bytes` the bytes
 * themselves, `table` an Arrow IPC stream.
 */
export interface ValueHandle {
  $ref: string;
  type: "json" | "bytes" | "table";
  size: number;
  sha256: string;
}

/** Whether a value parsed from a `*_json` field is a handle rather than the value itself. */
export function isValueHandle(value: unknown): value is ValueHandle {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { $ref?: unknown }).$ref === "string" &&
    typeof (value as { size?: unknown }).size === "number"
  );
}

/**
 * Streams the bytes of a value by handle (or by its ref), chunk by chunk, so a client can write a 300 MB output to
 * a file without holding it. Use {@link readValue} for the whole value at once.
 */
export async function* readValueChunks(
  client: ConductorClient,
  handle: ValueHandle | string,
): AsyncGenerator<Uint8Array> {
  const ref = typeof handle === "string" ? handle : handle.$ref;
  for await (const message of client.readValue({ ref })) {
    if (message.chunk.byteLength > 0) yield message.chunk;
  }
}

/** Reads the whole value a handle names, as bytes (decode `json` handles with `JSON.parse(new TextDecoder()...)`). */
export async function readValue(client: ConductorClient, handle: ValueHandle | string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of readValueChunks(client, handle)) {
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Chunk size of {@link uploadValue}: well under gRPC's default 4 MiB message limit. */
const UPLOAD_CHUNK_BYTES = 1024 * 1024;

/**
 * Uploads a large input in chunks and gives its handle; pass `{ "$ref": handle.$ref }` as the input's value in
 * `inputsJson`. A client stream: it needs a gRPC transport, or Connect over HTTP/2 (Node), not a browser's fetch.
 */
export async function uploadValue(
  client: ConductorClient,
  data: Uint8Array | AsyncIterable<Uint8Array>,
  type: ValueHandle["type"] = "bytes",
): Promise<ValueHandle> {
  async function* requests() {
    let first = true;
    const chunks =
      data instanceof Uint8Array
        ? (function* () {
            for (let offset = 0; offset < data.byteLength; offset += UPLOAD_CHUNK_BYTES) {
              yield data.subarray(offset, offset + UPLOAD_CHUNK_BYTES);
            }
          })()
        : data;
    for await (const chunk of chunks) {
      yield { type: first ? type : "", chunk };
      first = false;
    }
    if (first) yield { type, chunk: new Uint8Array() };
  }
  const { handle } = await client.uploadValue(requests());
  if (handle === undefined) throw new Error("the server answered UploadValue without a handle");
  return {
    $ref: handle.ref,
    type: handle.type as ValueHandle["type"],
    size: Number(handle.size),
    sha256: handle.sha256,
  };
}
