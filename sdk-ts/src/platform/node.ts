import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Platform, Sha256 } from "./platform.js";

/** The sdk's platform in Node (`#platform` without the "browser" condition): Node's crypto, files and require. */
export const platform: Platform = {
  createSha256(): Sha256 {
    const hash = createHash("sha256");
    const sha256: Sha256 = {
      update(data) {
        hash.update(data);
        return sha256;
      },
      digestHex: () => hash.digest("hex"),
    };
    return sha256;
  },

  loadArrow() {
    // Required synchronously through its ES module entry, because `require()` of an ES module shares the instance
    // that `import "apache-arrow"` gets (the CommonJS build would be a second, incompatible copy).
    arrow ??= createRequire(import.meta.url)(
      fileURLToPath(import.meta.resolve("apache-arrow")),
    ) as typeof import("apache-arrow");
    return arrow;
  },

  readBlobFile(uri) {
    return readFileSync(fileURLToPath(uri));
  },

  writeBlobFile(blobDir, name, bytes) {
    const path = join(blobDir, name);
    let exists = false;
    try {
      exists = statSync(path).size === bytes.byteLength;
    } catch {
      exists = false;
    }
    if (!exists) {
      mkdirSync(blobDir, { recursive: true });
      const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      writeFileSync(temp, bytes);
      renameSync(temp, path);
    }
    return pathToFileURL(path).href;
  },

  readBlobHead(uri, maxBytes) {
    const fd = openSync(fileURLToPath(uri), "r");
    try {
      const buffer = Buffer.alloc(maxBytes);
      return buffer.subarray(0, readSync(fd, buffer, 0, maxBytes, 0));
    } finally {
      closeSync(fd);
    }
  },

  readBlobChunks(uri, chunkBytes) {
    return createReadStream(fileURLToPath(uri), { highWaterMark: chunkBytes });
  },
};

let arrow: typeof import("apache-arrow") | undefined;
