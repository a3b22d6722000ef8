/**
 * The demo's TypeScript node: formats the sales report from an Arrow table produced in Python, statistics computed
 * in Rust and a fingerprint computed in Rust.
 */
import { defineNode, values } from "@conductor/sdk";
import { z } from "zod";

const columnStats = z.object({
  count: z.number(),
  null_count: z.number(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
  stddev: z.number().nullable(),
});

export const salesReport = defineNode({
  type: "demo.sales-report",
  title: "Sales report",
  description: "Formats a text report of sales by region with column statistics.",
  input: {
    regions: values.table().describe("One row per region: region, units, revenue, rows."),
    stats: z.record(z.string(), columnStats).describe("Statistics of each numeric column."),
    rows: z.number().int(),
    digest: z.string().describe("SHA-256 of the CSV file."),
    file: z.string(),
  },
  output: { text: z.string() },
  flags: { deterministic: true },
  run: ({ regions, stats, rows, digest, file }) => {
    const money = (value: number) =>
      value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    const lines = [
      `Sales report: ${file} (${rows.toLocaleString("en-US")} rows, sha256 ${digest.slice(0, 12)}…)`,
      "",
      `${"region".padEnd(8)} ${"units".padStart(7)} ${"revenue".padStart(12)} ${"orders".padStart(7)}`,
    ];
    let totalRevenue = 0;
    for (const row of regions.toArray()) {
      const {
        region,
        units,
        revenue,
        rows: orders,
      } = row.toJSON() as { region: string; units: bigint | number; revenue: number; rows: bigint | number };
      totalRevenue += revenue;
      lines.push(
        `${region.padEnd(8)} ${String(units).padStart(7)} ${money(revenue).padStart(12)} ${String(orders).padStart(7)}`,
      );
    }
    lines.push(`${"total".padEnd(8)} ${"".padStart(7)} ${money(totalRevenue).padStart(12)}`);
    lines.push("");
    for (const [column, stat] of Object.entries(stats)) {
      lines.push(
        `${column.padEnd(10)} mean ${stat.mean?.toFixed(2) ?? "-"}, min ${stat.min ?? "-"}, max ${stat.max ?? "-"}, stddev ${stat.stddev?.toFixed(2) ?? "-"}`,
      );
    }
    return { text: lines.join("\n") };
  },
});
