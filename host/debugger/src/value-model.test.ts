import { describe, expect, it } from "vitest";
import { prettyJson } from "./format.js";
import { edgeLabel } from "./layout.js";
import {
  asBytes,
  asHandle,
  cellText,
  FOLD_JSON_CHARS,
  FOLD_STRING_CHARS,
  foldedString,
  foldSummary,
  foldsByDefault,
  foldsString,
  formatBytes,
  formatNumber,
  gridOf,
  kindOfColumn,
  parseValueText,
} from "./value-model.js";

describe("parseValueText()", () => {
  it("keeps every digit of integers beyond 2^53 - 1, both signs, and leaves safe ones numbers", () => {
    const parsed = parseValueText(
      '{"big": 9007199254740993, "low": -9223372036854775808, "safe": 9007199254740991}',
    );
    expect(parsed?.value).toEqual({
      big: 9007199254740993n,
      low: -9223372036854775808n,
      safe: 9007199254740991,
    });
  });

  it("gives nothing for empty text and keeps text that is not JSON as a string", () => {
    expect(parseValueText("")).toBeUndefined();
    expect(parseValueText("not json")).toEqual({ value: "not json" });
  });
});

describe("formatNumber() and cellText()", () => {
  it("writes numbers and int64 bigints as their digits, never quoted", () => {
    expect(formatNumber(9223372036854775807n)).toBe("9223372036854775807");
    expect(formatNumber(-9007199254740993n)).toBe("-9007199254740993");
    expect(formatNumber(42)).toBe("42");
    expect(formatNumber(0.5)).toBe("0.5");
    expect(cellText(12345678901234567890n)).toBe("12345678901234567890");
    expect(cellText("text")).toBe("text");
    expect(cellText(null)).toBe("null");
    expect(cellText(undefined)).toBe("");
    expect(cellText({ a: 9007199254740993n })).toBe('{"a":9007199254740993}');
  });

  it("pretty-prints JSON text without rounding int64 values", () => {
    expect(prettyJson('{"id":9223372036854775807}')).toBe('{\n  "id": 9223372036854775807\n}');
    expect(prettyJson("{oops")).toBe("{oops");
  });
});

describe("gridOf()", () => {
  it("makes a grid of an Arrow table preview: column names and types, rows in column order, the full row count", () => {
    const grid = gridOf({
      $table: {
        rows: 250,
        columns: ["city", "n"],
        types: ["utf8", "int64"],
        data: [
          { n: 1, city: "Oslo" },
          { n: 9007199254740993n, city: "Lima" },
        ],
        truncated: true,
      },
    });
    expect(grid).toEqual({
      source: "table",
      columns: [
        { name: "city", type: "utf8" },
        { name: "n", type: "int64" },
      ],
      rows: [
        ["Oslo", 1],
        ["Lima", 9007199254740993n],
      ],
      rowCount: 250,
    });
  });

  it("infers column types from the data of a table written without types", () => {
    const grid = gridOf({ $table: { rows: 1, columns: ["a"], data: [{ a: 1.5 }] } });
    expect(grid?.columns).toEqual([{ name: "a", type: "number" }]);
  });

  it("makes a grid of an array of rows, with the union of their keys and each column's JSON kind", () => {
    const grid = gridOf([
      { id: 1, name: "a" },
      { id: 12345678901234567890n, name: null, extra: true },
    ]);
    expect(grid?.source).toBe("rows");
    expect(grid?.columns).toEqual([
      { name: "id", type: "integer" },
      { name: "name", type: "string" },
      { name: "extra", type: "boolean" },
    ]);
    expect(grid?.rows).toEqual([
      [1, "a", undefined],
      [12345678901234567890n, null, true],
    ]);
    expect(grid?.rowCount).toBe(2);
  });

  it("draws at most the limit of rows and counts the rest", () => {
    const rows = Array.from({ length: 30 }, (_, i) => ({ i }));
    const grid = gridOf(rows, 10);
    expect(grid?.rows).toHaveLength(10);
    expect(grid?.rows[9]).toEqual([9]);
    expect(grid?.rowCount).toBe(30);
  });

  it("is no grid for values that are not tables", () => {
    expect(gridOf([])).toBeUndefined();
    expect(gridOf([1, 2])).toBeUndefined();
    expect(gridOf([{ a: 1 }, 2])).toBeUndefined();
    expect(gridOf([{}, {}])).toBeUndefined();
    expect(gridOf({ a: 1 })).toBeUndefined();
    expect(gridOf("x")).toBeUndefined();
  });
});

describe("kindOfColumn()", () => {
  it("names mixed kinds, lets nulls give way and integers join numbers", () => {
    expect(kindOfColumn([{ a: 1 }, { a: "x" }], "a")).toBe("integer|string");
    expect(kindOfColumn([{ a: 1 }, { a: 2.5 }, { a: null }], "a")).toBe("number");
    expect(kindOfColumn([{ a: null }], "a")).toBe("null");
    expect(kindOfColumn([{ a: [1] }, { a: { b: 1 } }], "a")).toBe("array|object");
  });
});

describe("folding", () => {
  it("folds a string past its length, showing its start and counting the rest", () => {
    const long = "x".repeat(FOLD_STRING_CHARS + 40);
    expect(foldsString(long)).toBe(true);
    expect(foldsString("short")).toBe(false);
    expect(foldedString(long)).toEqual({ shown: "x".repeat(FOLD_STRING_CHARS), hidden: 40 });
  });

  it("folds a string of many short lines after its first lines", () => {
    const text = "a\nb\nc\nd\ne\nf";
    expect(foldsString(text)).toBe(true);
    expect(foldedString(text)).toEqual({ shown: "a\nb\nc\nd", hidden: 4 });
  });

  it("keeps small objects open, folds large nested ones, and the top level only when very large", () => {
    const small = { a: 1, b: [1, 2] };
    const large = { text: "y".repeat(FOLD_JSON_CHARS) };
    expect(foldsByDefault(small, 1)).toBe(false);
    expect(foldsByDefault(large, 1)).toBe(true);
    expect(foldsByDefault(large, 0)).toBe(false);
    expect(foldsByDefault({ text: "y".repeat(FOLD_JSON_CHARS * 8) }, 0)).toBe(true);
    expect(foldsByDefault({}, 3)).toBe(false);
  });

  it("summarises a folded object or array by its size", () => {
    expect(foldSummary({ a: 1, b: 2 })).toBe("{2 keys}");
    expect(foldSummary({ a: 1 })).toBe("{1 key}");
    expect(foldSummary([1, 2, 3])).toBe("[3 items]");
    expect(foldSummary([1])).toBe("[1 item]");
  });
});

describe("handles, bytes and sizes", () => {
  it("reads a value handle and bytes with their sizes", () => {
    expect(
      asHandle({ $ref: "executions/e/outputs/big", type: "table", size: 3_145_728, sha256: "ab" }),
    ).toEqual({
      ref: "executions/e/outputs/big",
      type: "table",
      size: 3_145_728,
    });
    expect(asHandle({ $ref: 1 })).toBeUndefined();
    expect(asBytes({ $bytes: "AQID" })).toEqual({ size: 3, truncated: false, base64: "AQID" });
    expect(asBytes({ $bytes: "AQ==" })?.size).toBe(1);
    expect(asBytes({ $bytes: "AQID", size: 70_000, truncated: true })).toMatchObject({
      size: 70_000,
      truncated: true,
    });
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(64 * 1024)).toBe("64 KiB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
  });
});

describe("edgeLabel()", () => {
  it("names the port an edge leaves and the port it enters", () => {
    expect(edgeLabel("text", "data")).toBe("text → data");
  });
});
