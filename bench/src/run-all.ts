/**
 * Runs every benchmark and prints each figure beside its target and, for cross-process figures, beside a floor
 * measured in this same run (a raw Unix-socket round trip). Targets are reported, never asserted as timings.
 *
 *   node bench/dist/run-all.js            full run (a few minutes)
 *   node bench/dist/run-all.js --smoke    a few iterations each: proves the benchmarks work (used by CI)
 *   node bench/dist/run-all.js --readme   also rewrites the results table in bench/README.md
 *   node bench/dist/run-all.js --only=sidecar,python   run the scenarios whose id contains one of these
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type BenchContext, type BenchResult, scenarios } from "./scenarios/index.js";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean" },
    readme: { type: "boolean" },
    only: { type: "string" },
  },
});

const smoke = values.smoke === true;
const filters = values.only?.split(",").filter(Boolean) ?? [];
const context: BenchContext = {
  smoke,
  iterations: (full: number) => (smoke ? Math.max(5, Math.ceil(full / 100)) : full),
  log: (message) => process.stderr.write(`bench: ${message}\n`),
};

const results: BenchResult[] = [];
const failures: string[] = [];
for (const scenario of scenarios) {
  if (filters.length > 0 && !filters.some((filter) => scenario.id.includes(filter))) continue;
  context.log(`${scenario.id}: ${scenario.title}`);
  try {
    const produced = await scenario.run(context);
    for (const result of produced) {
      if (!Number.isFinite(result.value) || result.value <= 0) {
        failures.push(`${result.id}: measured ${result.value}, expected a positive number`);
      }
      results.push(result);
      context.log(`  ${formatRow(result).join(" | ")}`);
    }
  } catch (error) {
    failures.push(`${scenario.id}: ${(error as Error).stack ?? String(error)}`);
  }
}

const table = renderTable(results);
process.stdout.write(`\n${table}\n`);
const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));
mkdirSync(resultsDir, { recursive: true });
writeFileSync(
  `${resultsDir}${smoke ? "smoke" : "latest"}.json`,
  `${JSON.stringify({ at: new Date().toISOString(), smoke, results }, null, 2)}\n`,
);

if (values.readme === true && !smoke) {
  const readmePath = fileURLToPath(new URL("../README.md", import.meta.url));
  const readme = readFileSync(readmePath, "utf8");
  const start = "<!-- results:start -->";
  const end = "<!-- results:end -->";
  const updated = `${readme.slice(0, readme.indexOf(start) + start.length)}\n${table}\n${readme.slice(readme.indexOf(end))}`;
  writeFileSync(readmePath, updated);
}

if (failures.length > 0) {
  process.stderr.write(
    `\nbench: ${failures.length} benchmark(s) did not produce a valid result:\n${failures.join("\n")}\n`,
  );
  process.exitCode = 1;
}
// Runtimes and timers of the scenarios are closed; exit even if a library keeps a handle.
setTimeout(() => process.exit(), 100).unref();

function formatRow(result: BenchResult): string[] {
  const value = `${format(result.value)} ${result.unit}`;
  const floor =
    result.floor === undefined ? "" : `${format(result.floor.value)} ${result.unit} (${result.floor.what})`;
  const ratio = result.ratio === undefined ? "" : `${result.ratio.toFixed(2)}×`;
  const verdict =
    result.met === undefined
      ? "reported"
      : result.met
        ? "met"
        : `**missed**${result.missedBy === undefined ? "" : ` by ${result.missedBy}`}`;
  return [result.what, value, floor, ratio, result.target, verdict];
}

function renderTable(rows: BenchResult[]): string {
  const header = ["benchmark", "median", "floor (same run)", "ratio", "target", "verdict"];
  const lines = [header, header.map(() => "---")].concat(rows.map(formatRow));
  return lines.map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

function format(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
