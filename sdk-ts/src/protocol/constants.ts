/**
 * Names and defaults of the runtime ABI that both sides must agree on.
 * docs/protocol.md is the normative description of each.
 */

/** The ABI major versions this package speaks, highest first. */
export const ABI_VERSIONS: readonly number[] = [1];

/** The cookie a host puts in `CONDUCTOR_COOKIE`; not a secret, it only tells a program that a host started it. */
export const RUNTIME_COOKIE = "conductor-runtime-7f3c9a1e";

/** Metadata key carrying the per-spawn token on every call. */
export const TOKEN_METADATA_KEY = "conductor-token";

/** Environment variables the host passes to a runtime. */
export const ENV = {
  cookie: "CONDUCTOR_COOKIE",
  abiVersions: "CONDUCTOR_ABI_VERSIONS",
  socketDir: "CONDUCTOR_SOCKET_DIR",
  token: "CONDUCTOR_TOKEN",
  runtimeName: "CONDUCTOR_RUNTIME_NAME",
  blobDir: "CONDUCTOR_BLOB_DIR",
  inlineLimit: "CONDUCTOR_INLINE_LIMIT",
  maxMessageBytes: "CONDUCTOR_MAX_MESSAGE_BYTES",
  reattach: "CONDUCTOR_REATTACH",
} as const;

/** Values whose encoding is larger than this travel as blobs unless the host says otherwise. */
export const DEFAULT_INLINE_LIMIT = 1024 * 1024;

/** The gRPC message size limit both sides set unless the host says otherwise. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Optional features of ABI v1 (docs/protocol.md, section 1.3). */
export const FEATURES = {
  steps: "session.steps",
  arrow: "values.arrow",
  blob: "values.blob",
  /** Stream ports with credit-based flow control (docs/protocol.md, section 3.5). */
  streams: "stream.credits",
  /**
   * The runtime sends the checkpoints its producers mark (`Event.checkpoint`) and gives a retried producer its
   * `Step.resume` (docs/protocol.md, section 3.5, "Checkpoints").
   */
  checkpoints: "stream.checkpoints",
} as const;

/** The JSON Schema keyword that marks a port carrying a non-JSON encoding. */
export const ENCODING_KEYWORD = "x-conductor-encoding";
