import { type DescField, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/** How {@link encodeReordered} departs from the canonical encoding. */
export interface ReorderOptions {
  /** Write each message's fields from the highest field number to the lowest (map entries: value, then key). */
  reverse?: boolean;
  /**
   * Put unknown fields (a varint and a length-delimited one, numbers 1000 and 1001) first in every message, map
   * entries excepted.
   */
  unknownFields?: boolean;
}

/** Field numbers no message of the ABI uses, for unknown fields. */
export const UNKNOWN_FIELD_NUMBERS = [1000, 1001] as const;

/**
 * Encodes a message the way a correct protobuf encoder may but protobuf-es never does: fields in reverse order,
 * at every level, and with unknown fields in every message. A protobuf decoder must accept both (fields may come
 * in any order and unknown fields are skipped), and a hand-written decoder is where this breaks; the conformance
 * kit sends these bytes to check a runtime's decoder. Repeated fields keep their elements' order, so the message
 * means the same.
 */
export function encodeReordered<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  options: ReorderOptions,
): Uint8Array {
  return reorder(toBinary(schema, message), (number) => fieldOf(schema, number), options);
}

/** What a length-delimited field holds, when it holds a message: its descriptor, or a map entry's. */
type Nested = { message: DescMessage } | { mapEntry: DescField & { fieldKind: "map" } } | undefined;

function fieldOf(schema: DescMessage, number: number): Nested {
  const field = schema.fields.find((candidate) => candidate.number === number);
  if (field === undefined) return undefined;
  switch (field.fieldKind) {
    case "message":
      return { message: field.message };
    case "list":
      return field.listKind === "message" ? { message: field.message } : undefined;
    case "map":
      return { mapEntry: field };
    default:
      return undefined;
  }
}

function reorder(
  bytes: Uint8Array,
  nestedAt: (number: number) => Nested,
  options: ReorderOptions,
): Uint8Array {
  const reader = new BinaryReader(bytes);
  const fields: { number: number; wireType: WireType; value: Uint8Array }[] = [];
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (wireType === WireType.LengthDelimited) {
      let value = reader.bytes();
      const nested = nestedAt(number);
      if (nested !== undefined) {
        value =
          "message" in nested
            ? reorder(value, (inner) => fieldOf(nested.message, inner), options)
            : reorder(
                value,
                (inner) =>
                  inner === 2 && nested.mapEntry.mapKind === "message"
                    ? { message: nested.mapEntry.message }
                    : undefined,
                // Because a map entry never gains fields, a correct host never sends it unknown ones; and
                // decoders disagree on them (upb drops such an entry), a gray area of the protobuf spec.
                { ...options, unknownFields: false },
              );
      }
      fields.push({ number, wireType, value });
    } else {
      fields.push({ number, wireType, value: reader.skip(wireType, number).slice() });
    }
  }
  // A stable sort keeps the elements of a repeated field in their order.
  if (options.reverse === true) fields.sort((left, right) => right.number - left.number);
  const writer = new BinaryWriter();
  if (options.unknownFields === true) {
    writer.tag(UNKNOWN_FIELD_NUMBERS[0], WireType.Varint).uint64(7n);
    writer.tag(UNKNOWN_FIELD_NUMBERS[1], WireType.LengthDelimited).string("unknown to this ABI version");
  }
  for (const field of fields) {
    if (field.wireType === WireType.LengthDelimited) {
      writer.tag(field.number, field.wireType).bytes(field.value);
    } else {
      // skip() gave the field's value bytes as they were on the wire, without the tag.
      writer.tag(field.number, field.wireType).raw(field.value);
    }
  }
  return writer.finish();
}
