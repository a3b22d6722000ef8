import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { BlobRef_Encoding, EncodedValue, tableToIpc, ValueSchema } from "@conductor/sdk/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blobPreview } from "./blob-preview.js";

describe("blobPreview()", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-blob-preview-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const blob = async (name: string, bytes: Uint8Array, encoding: BlobRef_Encoding) => {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return new EncodedValue(
      create(ValueSchema, {
        kind: {
          case: "blob",
          value: { uri: pathToFileURL(path).href, size: BigInt(bytes.byteLength), sha256: "", encoding },
        },
      }),
    );
  };

  it("shows an Arrow table's int64 cells as numbers with every digit, not as quoted text", async () => {
    const { tableFromArrays } = await import("apache-arrow");
    const table = tableFromArrays({
      id: BigInt64Array.from([9007199254740993n, -9223372036854775808n]),
      n: Int32Array.from([1, 2]),
    });
    const value = await blob("table.arrow", tableToIpc(table), BlobRef_Encoding.ARROW);
    const lines = blobPreview(value, 400)!.split("\n");
    expect(lines[0]).toMatch(/^Arrow table \(\d+ bytes\), columns id, n$/);
    expect(lines.slice(1, 3)).toEqual(['{"id":9007199254740993,"n":1}', '{"id":-9223372036854775808,"n":2}']);
  });

  it("is undefined for a value that is not a blob", () => {
    expect(blobPreview("text", 10)).toBeUndefined();
  });
});
