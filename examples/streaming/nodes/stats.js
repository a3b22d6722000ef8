import { defineNode, stream, values } from "@conductor/sdk";
import { z } from "zod";
/**
 * Reads a stream of Arrow record batches (apache-arrow Tables, one per batch) as they come, and gives the rows,
 * the batches, the sum of the `value` column and the Arrow type of each column.
 */
export const batchStats = defineNode({
  type: "ts.batch-stats",
  title: "Batch statistics",
  input: { batches: stream(values.table()) },
  output: {
    rows: z.number().int(),
    batches: z.number().int(),
    sum: z.number(),
    types: z.record(z.string(), z.string()),
  },
  run: async ({ batches }) => {
    let rows = 0;
    let count = 0;
    let sum = 0;
    let types = {};
    for await (const batch of batches) {
      count++;
      rows += batch.numRows;
      const value = batch.getChild("value");
      if (value !== null) for (const item of value) sum += item === null ? 0 : Number(item);
      if (count === 1)
        types = Object.fromEntries(batch.schema.fields.map((field) => [field.name, String(field.type)]));
    }
    return { rows, batches: count, sum, types };
  },
});
//# sourceMappingURL=stats.js.map
