import { type BinaryReader, type BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { type BlobRef, BlobRef_Encoding, type Value } from "../gen/conductor/runtime/v1/runtime_pb.js";
import { BLOB, VALUE } from "./session-fields.js";

/**
 * Reads and writes `Value` and `BlobRef` messages field by field, for the hand-written session codec. Reading
 * follows the protobuf rules for a message decoded from any field order: the last member of the `kind` oneof wins,
 * and a `blob` that occurs twice is merged, as the generated protobuf-es code does.
 */

const VALUE_TYPE = "conductor.runtime.v1.Value" as const;
const BLOB_TYPE = "conductor.runtime.v1.BlobRef" as const;

/** A `Value` with no kind set (what an absent value field decodes to). */
export function emptyValue(): Value {
  return { $typeName: VALUE_TYPE, kind: { case: undefined } };
}

/** Writes the fields of `value` (not its tag or length: the caller forks around it). */
export function writeValueFields(writer: BinaryWriter, value: Value): void {
  const kind = value.kind;
  switch (kind.case) {
    case "json":
      writer.tag(VALUE.json, WireType.LengthDelimited).bytes(kind.value);
      return;
    case "raw":
      writer.tag(VALUE.raw, WireType.LengthDelimited).bytes(kind.value);
      return;
    case "arrow":
      writer.tag(VALUE.arrow, WireType.LengthDelimited).bytes(kind.value);
      return;
    case "blob": {
      const blob = kind.value;
      writer.tag(VALUE.blob, WireType.LengthDelimited).fork();
      if (blob.uri !== "") writer.tag(BLOB.uri, WireType.LengthDelimited).string(blob.uri);
      if (blob.size !== 0n) writer.tag(BLOB.size, WireType.Varint).uint64(blob.size);
      if (blob.sha256 !== "") writer.tag(BLOB.sha256, WireType.LengthDelimited).string(blob.sha256);
      if (blob.encoding !== 0) writer.tag(BLOB.encoding, WireType.Varint).int32(blob.encoding);
      writer.join();
      return;
    }
    default:
      return;
  }
}

/**
 * Reads a length-prefixed `Value` at the reader's position. `previous` is the value an earlier occurrence of the
 * same field gave: a second occurrence is merged into it, as protobuf requires.
 */
export function readValue(reader: BinaryReader, previous?: Value): Value {
  const end = reader.uint32() + reader.pos;
  let value = previous ?? emptyValue();
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, field);
      continue;
    }
    switch (field) {
      case VALUE.json:
        value = { $typeName: VALUE_TYPE, kind: { case: "json", value: reader.bytes() } };
        break;
      case VALUE.raw:
        value = { $typeName: VALUE_TYPE, kind: { case: "raw", value: reader.bytes() } };
        break;
      case VALUE.arrow:
        value = { $typeName: VALUE_TYPE, kind: { case: "arrow", value: reader.bytes() } };
        break;
      case VALUE.blob: {
        const blob = readBlob(reader, value.kind.case === "blob" ? value.kind.value : undefined);
        value = { $typeName: VALUE_TYPE, kind: { case: "blob", value: blob } };
        break;
      }
      default:
        reader.skip(wireType, field);
    }
  }
  return value;
}

function readBlob(reader: BinaryReader, previous: BlobRef | undefined): BlobRef {
  const end = reader.uint32() + reader.pos;
  const blob: BlobRef = previous ?? {
    $typeName: BLOB_TYPE,
    uri: "",
    size: 0n,
    sha256: "",
    encoding: BlobRef_Encoding.UNSPECIFIED,
  };
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === BLOB.uri && wireType === WireType.LengthDelimited) blob.uri = reader.string();
    else if (field === BLOB.size && wireType === WireType.Varint) blob.size = BigInt(reader.uint64());
    else if (field === BLOB.sha256 && wireType === WireType.LengthDelimited) blob.sha256 = reader.string();
    else if (field === BLOB.encoding && wireType === WireType.Varint) blob.encoding = reader.int32();
    else reader.skip(wireType, field);
  }
  return blob;
}
