import { platform } from "#platform";
import type { Sha256 } from "../platform/platform.js";

export type { Sha256 } from "../platform/platform.js";

/**
 * A synchronous SHA-256, as the engine's cache keys and blob names need it: Node's crypto in Node, a pure
 * JavaScript one in a page (Web Crypto's digest is asynchronous only).
 */
export function createSha256(): Sha256 {
  return platform.createSha256();
}
