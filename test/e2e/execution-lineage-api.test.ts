/**
 * Lineage and ownership through the API, as the debugger reads them: ListExecutions shows a re-run with the
 * execution it re-runs and a resumed execution with its resumptions and owner; GetExecution of a resumed execution
 * shows the whole of it, the nodes that finished before its host stopped included.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type ApiServer,
  type BlueprintDocument,
  type Conductor,
  createApiServer,
  createConductor,
} from "@conductor/host";
import { createClient, OrphanReason } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as policyNodes from "../fixtures/nodes/policy-nodes.js";

const nodes = Object.values(policyNodes).filter(
  (value) => typeof value === "object" && value !== null && "kind" in value,
) as never[];

const saga: BlueprintDocument = {
  conductor: "blueprint/v1",
  id: "saga",
  outputs: { value: "last.attempt" },
  nodes: {
    first: { type: "test.list", config: { count: 2 } },
    gate: { type: "test.hang-once", inputs: { value: "first.items", ms: { value: 600_000 } } },
    last: { type: "test.flaky", config: { failTimes: 0 }, inputs: { value: "gate.value" } },
  },
};

describe("ListExecutions and GetExecution", () => {
  let dir: string;
  let first: Conductor;
  let second: Conductor;
  let server: ApiServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lineage-api-"));
    const open = (label: string, isAlive?: () => boolean) =>
      createConductor({
        nodes,
        journal: {
          path: join(dir, "journal.db"),
          lease: { label, renewEveryMs: 20, ...(isAlive === undefined ? {} : { isAlive }) },
        },
        project: { dir, blueprints: [], nodes: [], runtimes: {} },
      });
    first = await open("first host");
    // The second host sees the first one's process as gone.
    second = await open("second host", () => false);
    server = await createApiServer(second, { port: 0, debuggerDir: false });
  });

  afterAll(async () => {
    await server.close();
    await second.close();
    await first.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("show re-runs and resumes with their lineage, and the whole of a resumed execution", async () => {
    let gateStarted!: () => void;
    const started = new Promise<void>((resolve) => {
      gateStarted = resolve;
    });
    let startedAt = 0;
    const cutOff = await first.start(
      saga,
      {},
      {
        onEvent: (event) => {
          if (event.type === "execution.started") startedAt = event.at;
          if (event.type === "node.started" && event.nodeId === "gate") gateStarted();
        },
      },
    );
    await started;
    await new Promise((resolve) => setImmediate(resolve));

    const client = createClient({ baseUrl: server.url, token: server.token });
    const orphan = (await client.listExecutions({})).executions.find(
      (summary) => summary.executionId === cutOff.executionId,
    );
    expect(orphan?.orphaned).toBe(OrphanReason.OWNER_DIED);
    expect(orphan?.owner).toMatchObject({ label: "first host", pid: process.pid });

    const [resumed] = await second.resumeUnfinished();
    expect((await resumed!.result).status).toBe("completed");
    const rerun = await (await second.rerun(cutOff.executionId, "last")).result;
    expect(rerun.status).toBe("completed");

    const listed = (await client.listExecutions({})).executions;
    expect(listed.map((summary) => summary.executionId)).toEqual([rerun.executionId, cutOff.executionId]);
    expect(listed[0]!.lineage).toMatchObject({
      rerunOf: cutOff.executionId,
      rerunFromNode: "last",
      resumes: 0,
    });
    expect(listed[1]!.lineage).toMatchObject({ rerunOf: "", resumes: 1 });
    expect(listed[1]!.orphaned).toBe(OrphanReason.UNSPECIFIED);
    expect(listed[1]!.owner?.label).toBe("second host");

    const { execution } = await client.getExecution({ executionId: cutOff.executionId });
    expect(execution!.nodes.map((node) => node.nodeId).sort()).toEqual(["first", "gate", "last"]);
    expect(execution!.nodes.find((node) => node.nodeId === "first")).toMatchObject({ attempt: 1 });
    expect(execution!.nodes.find((node) => node.nodeId === "gate")).toMatchObject({ attempt: 2 });
    expect(execution!.lineage?.resumes).toBe(1);
    // Timed from its first start, not from the resume.
    expect(timestampMs(execution!.startedAt!)).toBe(startedAt);
    expect(execution!.durationMs).toBe(timestampMs(execution!.finishedAt!) - startedAt);
  });
});
