import { create } from "@bufbuild/protobuf";
import { BlobRef_Encoding, type Value, ValueSchema } from "../gen/conductor/runtime/v1/runtime_pb.js";
import { FEATURES } from "./constants.js";
import { readBlob, ValueError } from "./value-codec.js";

/**
 * What the runtime receiving a value announced in its Handshake, for {@link valueForReceiver}. The host honours
 * these features (docs/protocol.md, section 1.3): it never sends an Arrow value to a runtime without
 * `values.arrow`, nor a blob reference to one without `values.blob`.
 */
export interface ReceiverFeatures {
  /** The runtime's name, for messages. */
  runtime: string;
  /** It announced `values.arrow`: it decodes Arrow IPC. */
  arrow: boolean;
  /** It announced `values.blob`: it reads blob references. */
  blob: boolean;
  /** The largest value sent inline to a runtime without `values.blob` (its message limit), in bytes. */
  maxInlineBytes: number;
}

/** The features of a runtime from the feature strings of its Handshake. */
export function receiverFeatures(
  runtime: string,
  features: readonly string[],
  maxInlineBytes: number,
): ReceiverFeatures {
  return {
    runtime,
    arrow: features.includes(FEATURES.arrow),
    blob: features.includes(FEATURES.blob),
    maxInlineBytes,
  };
}

/**
 * The wire value as the receiving runtime can take it: a blob reference becomes its bytes inline for a runtime
 * without `values.blob` (up to its message limit); an Arrow value for a runtime without `values.arrow` throws a
 * {@link ValueError} of type `value.unsupported` naming the runtime, the node and the port, because a table has
 * no faithful JSON form. `where` names the value in messages, e.g. `input "table" of node "sum"`.
 */
export function valueForReceiver(value: Value, receiver: ReceiverFeatures, where: string): Value {
  const kind = value.kind;
  const arrow =
    kind.case === "arrow" || (kind.case === "blob" && kind.value.encoding === BlobRef_Encoding.ARROW);
  if (arrow && !receiver.arrow) {
    throw new ValueError(
      `${where} is an Arrow table, but runtime "${receiver.runtime}" did not announce "${FEATURES.arrow}" in its handshake and cannot read one; give the node JSON or bytes instead (convert the table before it), or serve the node from a runtime that reads Arrow`,
      "value.unsupported",
    );
  }
  if (kind.case !== "blob" || receiver.blob) return value;
  if (kind.value.size > BigInt(receiver.maxInlineBytes)) {
    throw new ValueError(
      `${where} has ${kind.value.size} bytes, more than the ${receiver.maxInlineBytes} runtime "${receiver.runtime}" takes in one message, and the runtime did not announce "${FEATURES.blob}" in its handshake, so it cannot take it as a blob; pass a smaller value, or upgrade the runtime to read blobs`,
      "value.too-large",
    );
  }
  const read = readBlob(kind.value);
  // A plain view of the file's bytes, as a decoded value has (readFileSync gives a Buffer).
  const bytes = new Uint8Array(read.buffer, read.byteOffset, read.byteLength);
  switch (kind.value.encoding) {
    case BlobRef_Encoding.JSON:
      return create(ValueSchema, { kind: { case: "json", value: bytes } });
    case BlobRef_Encoding.ARROW:
      return create(ValueSchema, { kind: { case: "arrow", value: bytes } });
    default:
      return create(ValueSchema, { kind: { case: "raw", value: bytes } });
  }
}
