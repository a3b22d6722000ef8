import { EncodedValue, encodeValue, tableFromIpc, tableToIpc } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { jsonText, parseJsonObject, previewJsonText } from "./json-text.js";

describe("jsonText()", () => {
  it("writes plain values as JSON and undefined as null", () => {
    expect(jsonText({ a: 1, b: ["x", true, null] })).toBe('{"a":1,"b":["x",true,null]}');
    expect(jsonText(undefined)).toBe("null");
  });

  it("writes bytes as $bytes, bigints as numbers with every digit, and decodes values from other processes", () => {
    expect(jsonText({ content: new Uint8Array([0, 1, 2, 255]), big: 2n ** 70n })).toBe(
      '{"content":{"$bytes":"AAEC/w=="},"big":1180591620717411303424}',
    );
    expect(jsonText({ value: new EncodedValue(encodeValue({ id: 9007199254740993n })) })).toBe(
      '{"value":{"id":9007199254740993}}',
    );
    expect(jsonText({ value: new EncodedValue(encodeValue({ deep: [1, 2] })) })).toBe(
      '{"value":{"deep":[1,2]}}',
    );
  });

  it("writes Arrow tables as $table with rows, columns, column types and data", async () => {
    const { tableFromArrays } = await import("apache-arrow");
    const table = tableFromIpc(
      tableToIpc(tableFromArrays({ city: ["Oslo", "Lima"], n: Int32Array.from([1, 2]) })),
    );
    expect(JSON.parse(jsonText({ table }))).toEqual({
      table: {
        $table: {
          rows: 2,
          columns: ["city", "n"],
          types: ["utf8", "int32"],
          data: [
            { city: "Oslo", n: 1 },
            { city: "Lima", n: 2 },
          ],
        },
      },
    });
  });
});

describe("parseJsonObject()", () => {
  it("gives {} for empty text and the object otherwise", () => {
    expect(parseJsonObject("", "inputs_json")).toEqual({});
    expect(parseJsonObject('{"a":1}', "inputs_json")).toEqual({ a: 1 });
  });

  it("keeps every digit of an integer beyond 2^53 - 1, as a bigint", () => {
    expect(parseJsonObject('{"n":9007199254740993,"m":-9007199254740995,"f":1.5}', "inputs_json")).toEqual({
      n: 9007199254740993n,
      m: -9007199254740995n,
      f: 1.5,
    });
  });

  it("fails with INVALID_ARGUMENT naming the field", () => {
    expect(() => parseJsonObject("{", "inputs_json")).toThrow(/inputs_json is not valid JSON/);
    expect(() => parseJsonObject("3", "inputs_json")).toThrow(
      /inputs_json must be a JSON object .* got a number/,
    );
  });
});

describe("previewJsonText()", () => {
  it("cuts tables to their first rows and bytes to their first 64 KiB, saying so", async () => {
    const { tableFromArrays } = await import("apache-arrow");
    const table = tableFromArrays({ n: Int32Array.from({ length: 250 }, (_, i) => i) });
    const preview = JSON.parse(previewJsonText({ table, bytes: new Uint8Array(70_000) }));
    expect(preview.table.$table.rows).toBe(250);
    expect(preview.table.$table.truncated).toBe(true);
    expect(preview.table.$table.data).toHaveLength(100);
    expect(preview.table.$table.data[99]).toEqual({ n: 99 });
    expect(preview.bytes.size).toBe(70_000);
    expect(preview.bytes.truncated).toBe(true);
    expect(Buffer.from(preview.bytes.$bytes, "base64").byteLength).toBe(64 * 1024);
  });

  it("leaves small values whole and gives empty text for no value", () => {
    expect(previewJsonText({ text: "hi", bytes: new Uint8Array([1]) })).toBe(
      '{"text":"hi","bytes":{"$bytes":"AQ=="}}',
    );
    expect(previewJsonText(undefined)).toBe("");
  });
});
