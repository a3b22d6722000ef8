/**
 * The runtime ABI as TypeScript: the generated messages of `conductor.runtime.v1`, the constants of
 * docs/protocol.md, and the codecs between live values and wire values. Hosts and runtimes use this; node authors
 * do not need it.
 */
export * from "../gen/conductor/runtime/v1/runtime_pb.js";
export { isArrowTable, loadArrow, tableFromIpc, tableToIpc } from "./arrow.js";
export { readBlobChunks, readBlobHead } from "./blob-files.js";
export {
  ABI_VERSIONS,
  DEFAULT_INLINE_LIMIT,
  DEFAULT_MAX_MESSAGE_BYTES,
  ENCODING_KEYWORD,
  ENV,
  FEATURES,
  RUNTIME_COOKIE,
  TOKEN_METADATA_KEY,
} from "./constants.js";
export type { FailureInfo } from "./failure.js";
export { failureFromWire, failureToWire, toFailureInfo } from "./failure.js";
export { grpcServiceDefinition } from "./grpc-service.js";
export type {
  InvocationRequest,
  InvocationSink,
  LogLevel,
  RuntimeDescription,
  StepEnd,
  StepInput,
  StepRequest,
  StreamSourceRef,
} from "./invocation.js";
export { observeSink } from "./invocation.js";
export {
  BYTES_KEY,
  bigintReplacement,
  bytesToBase64,
  isUnsafeInteger,
  parseJsonText,
  parseJsonWithBytes,
  stringifyJson,
} from "./json-text.js";
export {
  type CreditCommand,
  decodeSessionRequest,
  type SessionCommand,
  SessionRequestWriter,
  type StreamItemsCommand,
} from "./session-request-codec.js";
export { dispatchSessionResponse, SessionResponseWriter } from "./session-response-codec.js";
export { createSha256, type Sha256 } from "./sha256.js";
export type { BlobOptions } from "./value-codec.js";
export {
  decodeValue,
  describeEncoding,
  EncodedValue,
  encodeJsonValue,
  encodeValue,
  readBlob,
  toLive,
  ValueError,
  writeBlob,
} from "./value-codec.js";
export { type ReceiverFeatures, receiverFeatures, valueForReceiver } from "./value-features.js";
