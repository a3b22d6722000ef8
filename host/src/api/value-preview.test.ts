import { parseJsonText } from "@conductor/sdk/protocol";
import { ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { valueBytes } from "./value-handles.js";
import { MAX_PREVIEW_ROWS, previewValueJson } from "./value-preview.js";

describe("previewValueJson()", () => {
  it("keeps a table's first rows across its record batches and counts all of them, with the column types", async () => {
    const { tableFromArrays } = await import("apache-arrow");
    // Three record batches of 40, 40 and 20 rows: the preview crosses the first boundary and counts the rest.
    const batch = (from: number, length: number) =>
      tableFromArrays({
        id: BigInt64Array.from({ length }, (_, i) => 9007199254740993n + BigInt(from + i)),
        share: Float64Array.from({ length }, (_, i) => (from + i) / 2),
      });
    const table = batch(0, 40).concat(batch(40, 40), batch(80, 20));
    expect(table.batches).toHaveLength(3);
    // Read as the API's clients read it: integers beyond 2^53 - 1 as bigint, every digit kept.
    const preview = parseJsonText(await previewValueJson(valueBytes(table), 50)) as {
      $table: { rows: number; truncated: boolean; columns: string[]; types: string[]; data: unknown[] };
    };
    expect(preview.$table.rows).toBe(100);
    expect(preview.$table.truncated).toBe(true);
    expect(preview.$table.columns).toEqual(["id", "share"]);
    expect(preview.$table.types).toEqual(["int64", "float64"]);
    expect(preview.$table.data).toHaveLength(50);
    expect(preview.$table.data[0]).toEqual({ id: 9007199254740993n, share: 0 });
    expect(preview.$table.data[49]).toEqual({ id: 9007199254741042n, share: 24.5 });
  });

  it("gives a whole small table, not truncated, and 100 rows when no count is asked", async () => {
    const { tableFromArrays } = await import("apache-arrow");
    const small = JSON.parse(
      await previewValueJson(valueBytes(tableFromArrays({ n: Int32Array.from([1, 2]) })), 0),
    );
    expect(small.$table).toEqual({
      rows: 2,
      columns: ["n"],
      types: ["int32"],
      data: [{ n: 1 }, { n: 2 }],
      truncated: false,
    });
    const large = tableFromArrays({ n: Int32Array.from({ length: 250 }, (_, i) => i) });
    expect(JSON.parse(await previewValueJson(valueBytes(large), 0)).$table.data).toHaveLength(100);
  });

  it("gives the first 64 KiB of bytes and of JSON text, with their full size", async () => {
    const bytes = new Uint8Array(200_000).map((_, i) => i % 251);
    const preview = JSON.parse(await previewValueJson(valueBytes(bytes), 0));
    expect(preview.size).toBe(200_000);
    expect(preview.truncated).toBe(true);
    expect(Buffer.from(preview.$bytes, "base64")).toEqual(Buffer.from(bytes.subarray(0, 64 * 1024)));

    const text = "é".repeat(50_000);
    const json = JSON.parse(await previewValueJson(valueBytes(text), 0));
    expect(json.size).toBe(Buffer.byteLength(JSON.stringify(text)));
    expect(json.truncated).toBe(true);
    // 64 KiB of text holding two-byte characters: the one cut in two at the end is dropped.
    expect(json.$json).toBe(`"${"é".repeat((64 * 1024 - 2) / 2)}`);
  });

  it("refuses more rows than the limit, naming it and the way to read all", async () => {
    const error = await previewValueJson(valueBytes("x"), MAX_PREVIEW_ROWS + 1).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).rawMessage).toBe(
      "rows is 1001, more than the limit of 1000; read the whole value with ReadValue",
    );
  });
});
