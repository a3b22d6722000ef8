import { streamCrossScenario } from "../stream-cross.js";
import { apiScenario } from "./api.js";
import { apiValuesScenario } from "./api-values.js";
import { browserScenario } from "./browser.js";
import { codecScenario } from "./codec.js";
import { coldCliScenario } from "./cold-cli.js";
import { devLoopScenario } from "./dev-loop.js";
import { distributedScenario } from "./distributed.js";
import { durableScenarios } from "./durable.js";
import { inProcessScenarios } from "./in-process.js";
import { runtimeScenarios } from "./runtimes.js";
import { sidecarScenarios } from "./sidecar.js";
import { streamingScenario } from "./streaming.js";
import { tableScenario } from "./table.js";
import { tenancyScenario } from "./tenancy.js";
import { tracingScenario } from "./tracing.js";
import { wasmScenarios } from "./wasm.js";

/** What a scenario gets: whether this is a smoke run, and how many iterations to use. */
export interface BenchContext {
  smoke: boolean;
  /** The number of iterations for a full run, reduced in a smoke run. */
  iterations(full: number): number;
  log(message: string): void;
}

/** One reported figure. */
export interface BenchResult {
  id: string;
  what: string;
  value: number;
  unit: "µs" | "ms" | "KB" | "MB" | "nodes/s" | "req/s" | "rows/s" | "MB/s" | "×";
  /** The floor this figure is compared with, measured in the same run. */
  floor?: { what: string; value: number };
  /** value / floor.value, when there is a floor. */
  ratio?: number;
  /** The target in words, e.g. "≤ 30 µs" or "≤ 2× floor". */
  target: string;
  /** Whether the target is met; undefined when the figure is only reported. */
  met?: boolean;
  /** How far from the target, when missed, e.g. "1.4×". */
  missedBy?: string;
}

/** A benchmark: a title and a function producing one or more results. */
export interface Scenario {
  id: string;
  title: string;
  run(context: BenchContext): Promise<BenchResult[]>;
}

/** Builds a result against an absolute target (lower is better). */
export function againstTarget(
  id: string,
  what: string,
  value: number,
  unit: BenchResult["unit"],
  target: number,
): BenchResult {
  const met = value <= target;
  return {
    id,
    what,
    value,
    unit,
    target: `≤ ${target} ${unit}`,
    met,
    ...(met ? {} : { missedBy: `${(value / target).toFixed(2)}×` }),
  };
}

/** Builds a result against a floor measured in the same run (lower is better). */
export function againstFloor(
  id: string,
  what: string,
  value: number,
  floor: { what: string; value: number },
  maxRatio: number,
): BenchResult {
  const ratio = value / floor.value;
  const met = ratio <= maxRatio;
  return {
    id,
    what,
    value,
    unit: "µs",
    floor,
    ratio,
    target: `≤ ${maxRatio}× floor`,
    met,
    ...(met ? {} : { missedBy: `${(ratio / maxRatio).toFixed(2)}×` }),
  };
}

export const scenarios: Scenario[] = [
  ...inProcessScenarios,
  ...sidecarScenarios,
  codecScenario,
  coldCliScenario,
  ...runtimeScenarios,
  tableScenario,
  ...durableScenarios,
  apiScenario,
  apiValuesScenario,
  tracingScenario,
  tenancyScenario,
  distributedScenario,
  ...wasmScenarios,
  browserScenario,
  devLoopScenario,
  streamingScenario,
  streamCrossScenario,
];
