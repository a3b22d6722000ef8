import {
  EncodedValue,
  encodeValue,
  parseJsonText,
  stringifyJson,
  tableFromIpc,
  tableToIpc,
} from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { formatPortsForPeople, PORT_PREVIEW_CHARS, toJsonSafe } from "./format-value.js";

describe("toJsonSafe()", () => {
  it("converts values JSON cannot hold at any depth, as in an execution's record", async () => {
    const { tableFromArrays } = await import("apache-arrow");
    const table = tableFromIpc(
      tableToIpc(
        tableFromArrays({ region: ["East", "West"], units: BigInt64Array.from([5n, 9007199254740995n]) }),
      ),
    );
    const record = {
      nodes: {
        load: { outputs: { table: new EncodedValue(encodeValue(table)) } },
        hash: { outputs: { digest: new EncodedValue(encodeValue("f2a0")), raw: new Uint8Array([1, 2]) } },
      },
      count: 2n,
      id: new EncodedValue(encodeValue(9007199254740993n)),
    };
    // Integers beyond 2^53 - 1 stay bigint, every digit kept, and print as JSON numbers.
    expect(stringifyJson(toJsonSafe(record))).toContain('"units":9007199254740995');
    expect(stringifyJson(toJsonSafe(record))).toContain('"id":9007199254740993');
    expect(parseJsonText(stringifyJson(toJsonSafe(record)))).toEqual({
      nodes: {
        load: {
          outputs: {
            table: {
              $table: {
                rows: 2,
                columns: ["region", "units"],
                types: ["utf8", "int64"],
                data: [
                  { region: "East", units: 5 },
                  { region: "West", units: 9007199254740995n },
                ],
              },
            },
          },
        },
        hash: { outputs: { digest: "f2a0", raw: { $bytes: "AQI=" } } },
      },
      count: 2,
      id: 9007199254740993n,
    });
  });
});

describe("formatPortsForPeople()", () => {
  it("shows one port per line, long text cut with the size of the rest", () => {
    const text = formatPortsForPeople({ path: "data.csv", content: "x".repeat(PORT_PREVIEW_CHARS + 1_234) });
    expect(text).toBe(`path: data.csv\ncontent: ${"x".repeat(PORT_PREVIEW_CHARS)}… (1,234 more characters)`);
  });

  it("shows a table as its first rows, dates as dates, whatever its size", async () => {
    const { tableFromArrays, vectorFromArray, DateDay, Table } = await import("apache-arrow");
    const day = Date.UTC(2026, 0, 1);
    const table = new Table({
      date: vectorFromArray(
        Array.from({ length: 12 }, (_, i) => new Date(day + i * 86_400_000)),
        new DateDay(),
      ),
      units: tableFromArrays({ units: Int32Array.from({ length: 12 }, (_, i) => i) }).getChild("units")!,
    });
    const lines = formatPortsForPeople({ table: new EncodedValue(encodeValue(table)) }).split("\n");
    expect(lines[0]).toBe("table: Arrow table, 12 rows × 2 columns");
    expect(lines[1]).toBe("  date        units");
    expect(lines[2]).toBe("  2026-01-01  0");
    expect(lines.at(-1)).toBe("  … 2 more rows");
  });
});
