import { create } from "@bufbuild/protobuf";
import { platform } from "#platform";
import {
  type BlobRef,
  BlobRef_Encoding,
  BlobRefSchema,
  type Value,
  ValueSchema,
} from "../gen/conductor/runtime/v1/runtime_pb.js";
import { isArrowTable, tableFromIpc, tableToIpc } from "./arrow.js";
import { parseJsonWithBytes, stringifyJson } from "./json-text.js";

/**
 * A value held in its wire form. The host keeps values it only forwards (from one runtime to another, or to the
 * store) in this form, so a table produced in Python and consumed in Rust is never decoded in the host and no
 * second copy is made. {@link decodeValue} turns it into a live value when a TypeScript node needs it.
 */
const ENCODED_VALUE = Symbol.for("conductor.encoded-value");

export class EncodedValue {
  constructor(readonly wire: Value) {}

  /** Registered, so that two copies of the sdk (its source and its build, in tests) recognise each other's. */
  get [ENCODED_VALUE](): true {
    return true;
  }

  static [Symbol.hasInstance](value: unknown): boolean {
    return (
      typeof value === "object" &&
      value !== null &&
      (value as { [ENCODED_VALUE]?: boolean })[ENCODED_VALUE] === true
    );
  }

  /** Size of the encoded bytes (for a blob, the size of the blob). */
  get byteLength(): number {
    const kind = this.wire.kind;
    switch (kind.case) {
      case "json":
      case "raw":
      case "arrow":
        return kind.value.byteLength;
      case "blob":
        return Number(kind.value.size);
      default:
        return 0;
    }
  }
}

/** Where and from what size values are written as blobs. */
export interface BlobOptions {
  /** Values whose encoding is larger than this many bytes become blobs. */
  inlineLimit: number;
  /** The directory blobs are written to; without it every value stays inline. */
  blobDir?: string | undefined;
}

/** Thrown when a value cannot be encoded or decoded; `type` becomes the Failure type. */
export class ValueError extends Error {
  override readonly name = "ValueError";
  constructor(
    message: string,
    readonly type:
      | "value.unencodable"
      | "blob.corrupt"
      | "value.empty"
      | "value.unsupported"
      | "value.too-large",
  ) {
    super(message);
  }
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * Encodes JSON-serializable data as a `json` Value; a bigint is written as its digits (none is lost), bytes nested
 * in it as `{"$bytes": "<base64>"}` (docs/protocol.md, section 3.2).
 */
export function encodeJsonValue(data: unknown): Value {
  return create(ValueSchema, { kind: { case: "json", value: textEncoder.encode(stringifyJson(data)) } });
}

/**
 * Encodes a live value for the wire: `Uint8Array` → raw, an apache-arrow Table → Arrow IPC, an
 * {@link EncodedValue} → its wire form unchanged, anything else → JSON. Values above the inline limit are
 * written to the blob directory and sent as a reference.
 */
export function encodeValue(live: unknown, blobs?: BlobOptions): Value {
  if (live instanceof EncodedValue) return maybeSpill(live.wire, blobs);
  if (typeof live === "object" && live !== null) {
    // A table a node passes on unchanged goes out as the bytes (or blob) it came in as: no second copy.
    const origin = decodedFrom.get(live);
    if (origin !== undefined) return maybeSpill(origin, blobs);
  }
  let value: Value;
  if (live instanceof Uint8Array) {
    value = create(ValueSchema, { kind: { case: "raw", value: live } });
  } else if (isArrowTable(live)) {
    value = create(ValueSchema, { kind: { case: "arrow", value: tableToIpc(live) } });
  } else {
    try {
      value = encodeJsonValue(live);
    } catch (error) {
      throw new ValueError(
        `value cannot be encoded as JSON: ${(error as Error).message}; return JSON data, a Uint8Array or an apache-arrow Table`,
        "value.unencodable",
      );
    }
  }
  return maybeSpill(value, blobs);
}

function maybeSpill(value: Value, blobs: BlobOptions | undefined): Value {
  if (blobs?.blobDir === undefined) return value;
  const kind = value.kind;
  if (kind.case === "blob" || kind.case === undefined || kind.value.byteLength <= blobs.inlineLimit)
    return value;
  const encoding =
    kind.case === "json"
      ? BlobRef_Encoding.JSON
      : kind.case === "arrow"
        ? BlobRef_Encoding.ARROW
        : BlobRef_Encoding.RAW;
  return create(ValueSchema, {
    kind: { case: "blob", value: writeBlob(blobs.blobDir, kind.value, encoding) },
  });
}

/** Writes bytes to the blob directory under their SHA-256 (temp file + rename, so readers never see a part). */
export function writeBlob(blobDir: string, bytes: Uint8Array, encoding: BlobRef_Encoding): BlobRef {
  const sha256 = platform.createSha256().update(bytes).digestHex();
  return create(BlobRefSchema, {
    uri: platform.writeBlobFile(blobDir, sha256, bytes),
    size: BigInt(bytes.byteLength),
    sha256,
    encoding,
  });
}

/** Reads a blob's bytes, checking its size against the reference. */
export function readBlob(ref: BlobRef): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = platform.readBlobFile(ref.uri);
  } catch (error) {
    throw new ValueError(`blob ${ref.uri} cannot be read: ${(error as Error).message}`, "blob.corrupt");
  }
  if (BigInt(bytes.byteLength) !== ref.size) {
    throw new ValueError(
      `blob ${ref.uri} has ${bytes.byteLength} bytes, its reference says ${ref.size}`,
      "blob.corrupt",
    );
  }
  return bytes;
}

/** The wire value each decoded table came from (tables are immutable, so the bytes still describe them). */
const decodedFrom = new WeakMap<object, Value>();

/**
 * Decodes a wire value into a live one: parsed JSON (integers beyond 2^53 - 1 as bigint, every digit kept, and
 * `{"$bytes": "<base64>"}` objects as Uint8Array), a Uint8Array, or an apache-arrow Table.
 */
export function decodeValue(value: Value): unknown {
  const live = decodeValueOnce(value);
  if (
    typeof live === "object" &&
    live !== null &&
    (value.kind.case === "arrow" || value.kind.case === "blob")
  ) {
    if (!(live instanceof Uint8Array)) decodedFrom.set(live, value);
  }
  return live;
}

function decodeValueOnce(value: Value): unknown {
  const kind = value.kind;
  switch (kind.case) {
    case "json":
      return kind.value.byteLength === 0 ? null : parseJsonWithBytes(textDecoder.decode(kind.value));
    case "raw":
      // gRPC hands over Buffers; nodes get a plain Uint8Array view of the same memory.
      return plainBytes(kind.value);
    case "arrow":
      return tableFromIpc(kind.value);
    case "blob": {
      const bytes = readBlob(kind.value);
      switch (kind.value.encoding) {
        case BlobRef_Encoding.JSON:
          return parseJsonWithBytes(textDecoder.decode(bytes));
        case BlobRef_Encoding.ARROW:
          return tableFromIpc(bytes);
        default:
          return plainBytes(bytes);
      }
    }
    default:
      throw new ValueError("value has no content (none of json, raw, arrow, blob is set)", "value.empty");
  }
}

/** The bytes as a plain Uint8Array: a view of the same memory when they are a subclass (Node's Buffer). */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Turns a value that may still be in wire form into a live value. */
export function toLive(value: unknown): unknown {
  return value instanceof EncodedValue ? decodeValue(value.wire) : value;
}

/** Names the encoding of a live or wire value, for messages: "json", "raw", "arrow" or "blob". */
export function describeEncoding(value: unknown): string {
  if (value instanceof EncodedValue) return value.wire.kind.case ?? "empty";
  if (value instanceof Uint8Array) return "raw";
  if (isArrowTable(value)) return "arrow";
  return "json";
}
