import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import * as apacheArrow from "apache-arrow";
import type { Platform, Sha256 } from "./platform.js";

const encoder = new TextEncoder();

/**
 * The sdk's platform in a browser page or a Web Worker (`#platform` under the "browser" condition): SHA-256 from
 * @noble/hashes (Web Crypto's digest is asynchronous only), apache-arrow bundled into the page, and no files, so a
 * blob value is refused with what it is.
 */
export const platform: Platform = {
  createSha256(): Sha256 {
    const hash = sha256.create();
    const result: Sha256 = {
      update(data) {
        hash.update(typeof data === "string" ? encoder.encode(data) : data);
        return result;
      },
      digestHex: () => bytesToHex(hash.digest()),
    };
    return result;
  },

  loadArrow: () => apacheArrow,

  readBlobFile(uri) {
    throw new Error(
      `blob ${uri} cannot be read in a browser page: blob files are available in the Node host only`,
    );
  },

  writeBlobFile(blobDir) {
    throw new Error(
      `blobs cannot be written to ${blobDir} in a browser page: blob files are available in the Node host only`,
    );
  },

  readBlobHead(uri) {
    throw new Error(
      `blob ${uri} cannot be read in a browser page: blob files are available in the Node host only`,
    );
  },

  readBlobChunks(uri) {
    throw new Error(
      `blob ${uri} cannot be read in a browser page: blob files are available in the Node host only`,
    );
  },
};
