/**
 * Executions shared by schedulers on one Redis (`conductor serve --queue`), with real processes: a worker and two
 * schedulers, each in its own project directory, nothing shared but a real redis-server. Executions started
 * through one scheduler's webhook are taken by one scheduler each, spread over both, and all complete; the receiving
 * scheduler answers Get and Watch for them from their event streams; `conductor run --queue` sends one too.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConductorClient, createClient, ExecutionStatus } from "@conductor/sdk/client";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runConductor } from "../fixtures/conductor-command.js";
import {
  type Member,
  type Scheduler,
  startExecution,
  startScheduler,
  startWorkerProcess,
  TOKEN,
} from "./cluster.js";
import { readRuns, waitFor, writeDistProject } from "./dist-project.js";
import { startRedis, type TestRedis } from "./redis-server.js";

const LENGTH = 2;

describe("executions shared by the schedulers of one Redis", () => {
  let root: string;
  let redis: TestRedis;
  let client: Redis;
  let worker: Member;
  const schedulers: Scheduler[] = [];
  let api: ConductorClient[];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "conductor-shared-"));
    redis = await startRedis();
    client = new Redis(redis.url);
    for (const name of ["worker", "s1", "s2", "runner"])
      await writeDistProject(join(root, name), { runsFile: join(root, "runs.log"), length: LENGTH, ms: 300 });
    worker = await startWorkerProcess("w1", join(root, "worker"), redis.url);
    // Two executions at a time each: starts beyond that wait in the queue for whichever has room.
    for (const name of ["s1", "s2"]) {
      schedulers.push(
        await startScheduler(name, join(root, name), redis.url, undefined, [
          "--queue",
          "--queue-capacity",
          "2",
        ]),
      );
    }
    api = schedulers.map((scheduler) => createClient({ baseUrl: scheduler.url, token: TOKEN }));
  });

  afterAll(async () => {
    for (const member of [...schedulers, worker]) {
      if (member === undefined) continue;
      member.child.kill("SIGTERM");
      await member.exited;
    }
    client?.disconnect();
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("spreads executions started through one scheduler over both, each run once, all completing", async () => {
    const [s1] = schedulers;
    const ids: string[] = [];
    for (let start = 0; start < 10; start++)
      ids.push(await startExecution(s1!, "relay", { start: start * 100 }));

    // A watch through the receiving scheduler, from the start: every event of the execution, in order.
    const watched: string[] = [];
    const watching = (async () => {
      for await (const { event } of api[0]!.watchExecution({ executionId: ids[9]! })) {
        watched.push(
          event?.kind.case === "nodeCompleted" ? `nodeCompleted ${event.nodeId}` : String(event?.kind.case),
        );
      }
    })();

    // Get through the receiving scheduler answers for every one of them, whichever ran it.
    for (const [index, executionId] of ids.entries()) {
      await waitFor(`execution ${executionId} to complete`, async () => {
        const answer = await api[0]!.getExecution({ executionId }).catch(() => undefined);
        return answer?.execution?.status === ExecutionStatus.COMPLETED;
      });
      const { execution } = await api[0]!.getExecution({ executionId });
      expect(JSON.parse(execution!.outputsJson)).toEqual({ value: index * 100 + LENGTH });
    }
    await watching;
    expect(watched).toEqual([
      "executionStarted",
      ...["n0", "n1"].flatMap((node) => [
        "nodeQueued",
        "nodeLog", // runs on worker w1
        "nodeStarted",
        "nodeLog", // adding one to ...
        `nodeCompleted ${node}`,
      ]),
      "executionFinished",
    ]);

    // Through the API too: StartExecution on s1, its result through s1's GetExecution.
    const started = await api[0]!.startExecution({
      blueprint: { case: "blueprintId", value: "relay" },
      inputsJson: JSON.stringify({ start: 5000 }),
    });
    await waitFor("the execution started through the API to complete", async () => {
      const answer = await api[0]!.getExecution({ executionId: started.executionId }).catch(() => undefined);
      return answer?.execution?.status === ExecutionStatus.COMPLETED;
    });
    const { execution: viaApi } = await api[0]!.getExecution({ executionId: started.executionId });
    expect(JSON.parse(viaApi!.outputsJson)).toEqual({ value: 5000 + LENGTH });
    expect(await client.get(`conductor:exec:${started.executionId}:owner`)).not.toBeNull();

    // Each was taken by exactly one scheduler, and both took some.
    const owners = await Promise.all(ids.map((id) => client.get(`conductor:exec:${id}:owner`)));
    expect(owners.every((owner) => owner !== null)).toBe(true);
    expect(new Set(owners).size).toBe(2);
    // The one that did not receive them has in its own journal exactly those it took.
    const inS2 = await Promise.all(
      ids.map(
        async (executionId) =>
          (await api[1]!.getExecution({ executionId }).catch(() => undefined)) !== undefined,
      ),
    );
    const s2Owner = owners.find((_owner, index) => inS2[index]);
    expect(s2Owner).toBeDefined();
    expect(inS2).toEqual(owners.map((owner) => owner === s2Owner));
  });

  it("sends an execution from `conductor run --queue` to the schedulers, and prints its outputs", async () => {
    const { code, stdout, stderr } = await runConductor(
      ["run", "relay.blueprint.yaml", "--queue", "--redis", redis.url, "--input", "start=40", "--json"],
      { cwd: join(root, "runner") },
    );
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as { executionId: string; status: string; outputs: unknown };
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ value: 40 + LENGTH });
    // Run by one of the schedulers, not by the command.
    const owner = await client.get(`conductor:exec:${result.executionId}:owner`);
    expect(owner).not.toBeNull();
  });
});

describe("a shared execution run by another scheduler than the one that received it", () => {
  let root: string;
  let redis: TestRedis;
  let worker: Member;
  let receiver: Scheduler;
  let runner: Scheduler;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "conductor-shared-kill-"));
    redis = await startRedis();
    for (const name of ["worker", "receiver", "runner"])
      await writeDistProject(join(root, name), { runsFile: join(root, "runs.log"), length: 3, ms: 1_000 });
    // The worker is never lost here: a long lock keeps a loaded machine's late lock renewal from re-delivering its
    // job (which re-runs an idempotent node by design, and is not what this test is about).
    worker = await startWorkerProcess("w1", join(root, "worker"), redis.url, ["--lock-ms", "20000"]);
    // The receiver takes none itself: the runner runs every execution.
    receiver = await startScheduler("receiver", join(root, "receiver"), redis.url, undefined, [
      "--queue",
      "--queue-capacity",
      "0",
    ]);
    runner = await startScheduler("runner", join(root, "runner"), redis.url, undefined, ["--queue"]);
  });

  afterAll(async () => {
    for (const member of [receiver, runner, worker]) {
      if (member === undefined || member.child.exitCode !== null) continue;
      member.child.kill("SIGTERM");
      await member.exited;
    }
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it("goes on from the runner's journal, and the receiver sees it complete", async () => {
    const executionId = await startExecution(receiver, "relay", { start: 7 });
    await waitFor("the first node to run", async () =>
      (await readRuns(join(root, "runs.log"))).some((run) => run.executionId === executionId),
    );
    runner.child.kill("SIGKILL");
    await runner.exited;
    runner = await startScheduler("runner", join(root, "runner"), redis.url, runner.port, ["--queue"]);
    const api = createClient({ baseUrl: receiver.url, token: TOKEN });
    await waitFor(
      "the execution to complete",
      async () => {
        const answer = await api.getExecution({ executionId }).catch(() => undefined);
        return answer?.execution?.status === ExecutionStatus.COMPLETED;
      },
      1_200,
    );
    const { execution } = await api.getExecution({ executionId });
    expect(JSON.parse(execution!.outputsJson)).toEqual({ value: 10 });
    expect(runner.output()).toContain(`resumed orphaned execution ${executionId}`);
    // No node ran twice: the restarted runner collected what the worker finished meanwhile.
    const runs = (await readRuns(join(root, "runs.log"))).filter((run) => run.executionId === executionId);
    expect(
      runs.map((run) => run.nodeId),
      `${JSON.stringify(runs)}\nworker:\n${worker.output()}`,
    ).toEqual(["n0", "n1", "n2"]);
  });

  it("cancels, through the receiver, an execution another scheduler runs", async () => {
    const executionId = await startExecution(receiver, "slow", {});
    await waitFor("the slow node to run", async () =>
      (await readRuns(join(root, "runs.log"))).some((run) => run.executionId === executionId),
    );
    const api = createClient({ baseUrl: receiver.url, token: TOKEN });
    await api.cancelExecution({ executionId, reason: "enough" });
    await waitFor("the execution to be cancelled", async () => {
      const answer = await api.getExecution({ executionId }).catch(() => undefined);
      return answer?.execution?.status === ExecutionStatus.CANCELLED;
    });
    // The runner cancelled it in its own journal.
    const { execution } = await createClient({ baseUrl: runner.url, token: TOKEN }).getExecution({
      executionId,
    });
    expect(execution?.status).toBe(ExecutionStatus.CANCELLED);
  });
});
