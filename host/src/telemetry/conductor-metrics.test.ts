import { defineNode } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { cached, createFlakyOnce, retriedBlueprint } from "../../../test/fixtures/nodes/telemetry-nodes.js";
import { type Conductor, createConductor } from "../conductor.js";
import { type ConductorMetrics, createConductorMetrics } from "./conductor-metrics.js";

const flaky = createFlakyOnce();

/** A node that runs until the test releases it, and says when it started. */
let release: () => void = () => {};
let startedWaiting: () => void = () => {};
const waiting = defineNode({
  type: "test.waiting",
  input: { x: z.number() },
  output: { x: z.number() },
  run: async ({ x }) => {
    startedWaiting();
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    return { x };
  },
});
const BLUEPRINT = retriedBlueprint("metered", { type: "test.cached", cache: true });

let metrics: ConductorMetrics;
let conductor: Conductor;

beforeAll(async () => {
  metrics = createConductorMetrics();
  conductor = await createConductor({
    nodes: [flaky.node, cached, waiting],
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
    flaky.passFromNow();
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

  it("counts at a scrape the steps running now, and none once they ended", async () => {
    const started = new Promise<void>((resolve) => {
      startedWaiting = resolve;
    });
    const prepared = await conductor.prepare({
      conductor: "blueprint/v1",
      id: "waits",
      inputs: { x: {} },
      outputs: { x: "wait.x" },
      nodes: { wait: { type: "test.waiting", inputs: { x: "inputs.x" } } },
    });
    const handle = prepared.start({ x: 1 });
    await started;
    expect(await series('conductor_runtime_invocations_in_flight{runtime="builtin"}')).toBe(1);
    expect(await series('conductor_runtime_invocations_queued{runtime="builtin"}')).toBe(0);
    release();
    expect((await handle.result).status).toBe("completed");
    expect(await series('conductor_runtime_invocations_in_flight{runtime="builtin"}')).toBe(0);
    expect(
      await series(
        'conductor_node_attempt_duration_seconds_count{node_type="test.waiting",runtime="builtin",status="completed"}',
      ),
    ).toBe(1);
  });
});
