/**
 * What the sdk needs from the platform it runs on, apart from the language: a synchronous SHA-256, apache-arrow
 * loaded on first use, and files for blobs. The sdk's other modules reach these only through `#platform`
 * (package.json "imports"), which resolves to node.ts in Node and to browser.ts in a browser build (the "browser"
 * condition), so that no module of the engine's core imports a Node built-in (docs/browser.md).
 */
export interface Platform {
  /** A SHA-256 fed in parts, synchronous because cache keys and schema hashes are computed in synchronous code. */
  createSha256(): Sha256;
  /**
   * The apache-arrow module, loaded on first use: loading it costs ~70 ms, and most runs never see a table. It is
   * the instance that `import "apache-arrow"` in a node's own code gets, so a node's tables are `instanceof` the
   * classes the codec checks.
   */
  loadArrow(): typeof import("apache-arrow");
  /** Reads a blob's bytes from its `file:` URI; throws the platform's error when it cannot. */
  readBlobFile(uri: string): Uint8Array;
  /**
   * Writes bytes as the file `name` of `blobDir` (temp file + rename, so readers never see a part) unless a file of
   * that size is there already; returns its `file:` URI.
   */
  writeBlobFile(blobDir: string, name: string, bytes: Uint8Array): string;
  /** At most `maxBytes` of a blob's first bytes (a preview of a large value without loading it). */
  readBlobHead(uri: string, maxBytes: number): Uint8Array;
  /** A blob's bytes in chunks of at most `chunkBytes`, read as they are consumed. */
  readBlobChunks(uri: string, chunkBytes: number): AsyncIterable<Uint8Array>;
}

/** A SHA-256 in progress. */
export interface Sha256 {
  /** Adds a text (as UTF-8) or bytes. */
  update(data: string | Uint8Array): Sha256;
  /** The digest as 64 lowercase hex digits; the hash cannot be updated after. */
  digestHex(): string;
}
