import { defineNode, NodeFailure } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Conductor, createConductor } from "../conductor.js";
import { type ConductorMetrics, createConductorMetrics } from "./conductor-metrics.js";

let calls = 0;
const flaky = defineNode({
  type: "test.flaky",
  input: { x: z.number() },
  output: { x: z.number() },
  run: ({ x }) => {
    calls++;
    if (calls === 1) throw new NodeFailure("not yet", { type: "test.not-yet", retryable: true });
    return { x };
  },
});
const cached = defineNode({
  type: "test.cached",
  flags: { deterministic: true },
  input: { x: z.number() },
  output: { x: z.number() },
  run: ({ x }) => ({ x: x + 1 }),
});

const BLUEPRINT = {
  conductor: "blueprint/v1" as const,
  id: "metered",
  inputs: { x: {} },
  outputs: { x: "second.x" },
  nodes: {
    first: { type: "test.flaky", inputs: { x: "inputs.x" }, retry: { maxAttempts: 2, initialDelayMs: 1 } },
    second: { type: "test.cached", cache: true, inputs: { x: "first.x" } },
  },
};

let metrics: ConductorMetrics;
let conductor: Conductor;

beforeAll(async () => {
  metrics = createConductorMetrics();
  conductor = await createConductor({
    nodes: [flaky, cached],
    tracing: false,
    metrics,
    project: { dir: process.cwd(), blueprints: [], nodes: [], runtimes: {} },
  });
});

afterAll(async () => {
  await conductor.close();
});

/** The value of one series in the registry's text, or undefined when it is not there. */
async function series(name: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe("metrics of executions, fed by the scheduler's hooks", () => {
  it("counts executions, attempts, retries and cache hits, and leaves no step queued or in flight", async () => {
    expect((await conductor.run(BLUEPRINT, { x: 1 })).status).toBe("completed");
    calls = 1;
    expect((await conductor.run(BLUEPRINT, { x: 1 })).status).toBe("completed");

    expect(await series('conductor_executions_started_total{blueprint="metered"}')).toBe(2);
    expect(await series('conductor_executions_finished_total{blueprint="metered",status="completed"}')).toBe(
      2,
    );
    expect(
      await series('conductor_execution_duration_seconds_count{blueprint="metered",status="completed"}'),
    ).toBe(2);
    // first: failed once, then completed in both runs; second: completed in the first run, a cache hit after.
    expect(
      await series(
        'conductor_node_attempt_duration_seconds_count{node_type="test.flaky",runtime="builtin",status="failed"}',
      ),
    ).toBe(1);
    expect(
      await series(
        'conductor_node_attempt_duration_seconds_count{node_type="test.flaky",runtime="builtin",status="completed"}',
      ),
    ).toBe(2);
    expect(
      await series(
        'conductor_node_attempt_duration_seconds_count{node_type="test.cached",runtime="builtin",status="completed"}',
      ),
    ).toBe(1);
    expect(await series('conductor_node_retries_total{node_type="test.flaky",runtime="builtin"}')).toBe(1);
    expect(await series('conductor_node_cache_hits_total{node_type="test.cached"}')).toBe(1);
    expect(await series('conductor_runtime_invocations_in_flight{runtime="builtin"}')).toBe(0);
    expect(await series('conductor_runtime_invocations_queued{runtime="builtin"}')).toBe(0);
  });
});
