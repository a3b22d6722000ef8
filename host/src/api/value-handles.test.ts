import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { BlobRef_Encoding, EncodedValue, ValueSchema } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { CHUNK_BYTES, valueBytes, valuesJsonText } from "./value-handles.js";

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

describe("valuesJsonText()", () => {
  it("keeps values up to the limit inline and gives larger ones as handles under their ref", () => {
    const text = valuesJsonText(
      { small: "abc", large: "x".repeat(100), none: undefined },
      "executions/e/outputs",
      {
        limit: 50,
      },
    );
    const json = JSON.stringify("x".repeat(100));
    expect(JSON.parse(text)).toEqual({
      small: "abc",
      large: { $ref: "executions/e/outputs/large", type: "json", size: json.length, sha256: sha256(json) },
    });
  });

  it("describes a blob from its reference alone, without reading the file", () => {
    const blob = new EncodedValue(
      create(ValueSchema, {
        kind: {
          case: "blob",
          value: {
            uri: "file:///nowhere/at/all",
            size: 5_000_000n,
            sha256: "ab".repeat(32),
            encoding: BlobRef_Encoding.RAW,
          },
        },
      }),
    );
    expect(JSON.parse(valuesJsonText({ data: blob }, "executions/e/outputs"))).toEqual({
      data: { $ref: "executions/e/outputs/data", type: "bytes", size: 5_000_000, sha256: "ab".repeat(32) },
    });
  });

  it("gives node values as previews below the limit", () => {
    const bytes = new Uint8Array(100 * 1024);
    const preview = JSON.parse(valuesJsonText({ bytes }, "executions/e/nodes/a/outputs", { preview: true }));
    expect(preview.bytes).toMatchObject({ size: 100 * 1024, truncated: true });
  });

  it("is empty for no values", () => {
    expect(valuesJsonText(undefined, "executions/e/outputs")).toBe("");
  });
});

describe("valueBytes()", () => {
  it("streams bytes in chunks of at most 1 MiB that add up to the value and its hash", async () => {
    const bytes = new Uint8Array(CHUNK_BYTES * 2 + 5).map((_, i) => i % 251);
    const value = valueBytes(bytes);
    const chunks: Uint8Array[] = [];
    for await (const chunk of value.chunks()) chunks.push(chunk);
    expect(chunks.map((chunk) => chunk.byteLength)).toEqual([CHUNK_BYTES, CHUNK_BYTES, 5]);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(value).toMatchObject({ type: "bytes", size: bytes.byteLength });
    expect(value.sha256()).toBe(sha256(bytes));
  });
});
