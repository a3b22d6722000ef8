import { EncodedValue, encodeValue, tableFromIpc, tableToIpc } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { toJsonSafe } from "./format-value.js";

describe("toJsonSafe()", () => {
  it("converts values JSON cannot hold at any depth, as in an execution's record", async () => {
    const { tableFromArrays } = await import("apache-arrow");
    const table = tableFromIpc(
      tableToIpc(tableFromArrays({ region: ["East", "West"], units: BigInt64Array.from([5n, 7n]) })),
    );
    const record = {
      nodes: {
        load: { outputs: { table: new EncodedValue(encodeValue(table)) } },
        hash: { outputs: { digest: new EncodedValue(encodeValue("f2a0")), raw: new Uint8Array([1, 2]) } },
      },
      count: 2n,
    };
    expect(JSON.parse(JSON.stringify(toJsonSafe(record)))).toEqual({
      nodes: {
        load: {
          outputs: {
            table: {
              $table: {
                rows: 2,
                columns: ["region", "units"],
                data: [
                  { region: "East", units: "5" },
                  { region: "West", units: "7" },
                ],
              },
            },
          },
        },
        hash: { outputs: { digest: "f2a0", raw: { $bytes: "AQI=" } } },
      },
      count: "2",
    });
  });
});
