/**
 * A remote node's `timeoutMs` is the time it runs, counted from when a worker starts it (its `started` event), not
 * from when the scheduler queued it: a node that waits in the queue behind another (one worker, one job at a time)
 * longer than its timeout still runs and completes, and a node that runs longer than its timeout fails with
 * `timeout`. Against a real redis-server; the worker runs in this process with its own project directory.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Conductor } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DistSetup, readRuns, startDistSetup, waitFor } from "./dist-project.js";

describe("timeoutMs of a remote node", () => {
  let dir: string;
  let conductor: Conductor;
  let setup: DistSetup | undefined;
  const runs = () => join(dir, "runs.log");

  /** A blueprint of one idempotent node sleeping `ms`, with a timeout of `timeoutMs`. */
  const timed = async (id: string, ms: number, timeoutMs: number) => {
    await writeFile(
      join(dir, "host", `${id}.blueprint.yaml`),
      `conductor: blueprint/v1
id: ${id}
outputs:
  value: only.value
nodes:
  only: { type: dist.record, timeoutMs: ${timeoutMs}, config: { file: ${JSON.stringify(runs())}, ms: ${ms} }, inputs: { value: { value: 1 } } }
`,
    );
    return join(dir, "host", `${id}.blueprint.yaml`);
  };

  beforeAll(async () => {
    setup = await startDistSetup({
      prefix: "conductor-dist-timeout-",
      project: { length: 1, ms: 5, slowMs: 2_500 },
      worker: { id: "w1", concurrency: 1 },
    });
    ({ dir, conductor } = setup);
  });

  afterAll(async () => {
    await setup?.close();
  });

  it("does not count the time a node waits in the queue", async () => {
    const quick = await timed("quick", 10, 800);
    // The worker's one slot is taken by a node of 2.5 s; the quick node waits behind it, then runs 10 ms.
    const slow = conductor.run(join(dir, "host", "slow.blueprint.yaml"), {});
    await waitFor("the slow node to run", async () =>
      (await readRuns(runs())).some((run) => run.nodeId === "sleep"),
    );
    const result = await conductor.run(quick, {});
    expect(result.failure?.message ?? result.status).toBe("completed");
    // It ran after the slow node ended: it waited longer than its timeout.
    expect((await slow).status).toBe("completed");
    const order = (await readRuns(runs())).map((run) => run.nodeId);
    expect(order.slice(-2)).toEqual(["sleep", "only"]);
  });

  it("counts the time a node runs on its worker", async () => {
    const overlong = await timed("overlong", 3_000, 300);
    const result = await conductor.run(overlong, {});
    expect(result.status).toBe("failed");
    expect(result.failure?.type).toBe("timeout");
    expect(result.failure?.message).toContain("timed out after 300 ms");
  });
});
