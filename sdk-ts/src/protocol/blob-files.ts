import { platform } from "#platform";

/**
 * The first bytes of a blob, at most `maxBytes`: for previews of a large recorded value without loading it. Throws
 * the platform's error when the file cannot be read (a browser page has no blob files).
 */
export function readBlobHead(uri: string, maxBytes: number): Uint8Array {
  return platform.readBlobHead(uri, maxBytes);
}

/** A blob's bytes in chunks of at most `chunkBytes`, read as they are consumed (streaming a value to a client). */
export function readBlobChunks(uri: string, chunkBytes: number): AsyncIterable<Uint8Array> {
  return platform.readBlobChunks(uri, chunkBytes);
}
