import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { benchConductor } from "../bench-conductor.js";
import { pythonRuntime } from "../runtimes.js";
import type { Scenario } from "./index.js";

/**
 * A 1,000,000-row × 10-column table made in Python, read in TypeScript, summed in Python. The table travels as a
 * blob (it is far above the inline limit); the TypeScript node passes the table it read on unchanged, so it leaves
 * as the same blob: the host holds one copy (the bytes the TypeScript node reads), reported as the host's ArrayBuffer
 * memory while the TypeScript node holds the table, less what it was before the run, next to the table's size.
 */
export const tableScenario: Scenario = {
  id: "table",
  title: "a 1M × 10 table Python → TypeScript → Python",
  async run(context) {
    const rows = context.smoke ? 10_000 : 1_000_000;
    const columns = 10;
    const conductor = await benchConductor({ python: pythonRuntime });
    try {
      const prepared = await conductor.prepare({
        conductor: "blueprint/v1",
        nodes: {
          make: { type: "bench.py-make-table", config: { rows, columns } },
          read: { type: "bench.table-rows", inputs: { table: "make.table" } },
          sum: { type: "bench.py-table-sum", inputs: { table: "read.table" } },
        },
        outputs: { rows: "read.rows", sum: "sum.sum", held: "read.arrayBufferBytes" },
      });
      const expectedSum = Array.from({ length: columns }, (_, index) => {
        const base = (rows * (rows - 1)) / 2 + rows * index;
        return index % 2 === 0 ? base : base / 2;
      }).reduce((a, b) => a + b, 0);
      await prepared.run();
      // Collect the previous run's garbage first, so `before` is what the host holds between runs.
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as () => void;
      await new Promise((resolve) => setTimeout(resolve, 100));
      gc();
      gc();
      const before = process.memoryUsage().arrayBuffers;
      const startedAt = performance.now();
      const result = await prepared.run();
      const elapsed = performance.now() - startedAt;
      if (
        result.outputs.rows !== rows ||
        Math.abs((result.outputs.sum as number) - expectedSum) > 1e-6 * expectedSum
      ) {
        throw new Error(
          `table arrived changed: ${JSON.stringify(result.outputs)}, expected sum ${expectedSum}`,
        );
      }
      const tableBytes = rows * columns * 8;
      const heldMb = ((result.outputs.held as number) - before) / 1e6;
      return [
        {
          id: "table-time",
          what: `${rows.toLocaleString("en-US")} × ${columns} table Python → TypeScript → Python, wall`,
          value: elapsed,
          unit: "ms",
          target: "reported",
        },
        {
          id: "table-copies",
          what: `host memory held during it (table is ${(tableBytes / 1e6).toFixed(0)} MB of values)`,
          value: Math.max(0.01, heldMb),
          unit: "MB",
          target: `≤ 1 copy (${((tableBytes * 1.1) / 1e6).toFixed(0)} MB)`,
          met: heldMb <= (tableBytes * 1.1) / 1e6,
        },
      ];
    } finally {
      await conductor.close();
    }
  },
};
