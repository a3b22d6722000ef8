/**
 * The host killed under load: `conductor serve` is SIGKILLed twice while executions relay a value through Python
 * and Node sidecar nodes, and restarted with `--resume` each time. The invariants: every execution the API
 * acknowledged ends (completed), none is lost, and no node runs again once its completion was recorded (by the
 * journaled events, and by the runs the nodes record themselves with their attempt numbers).
 */
import type { ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConductorClient, createClient, ExecutionStatus } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveEnvironment, startServe } from "../fixtures/serve-process.js";
import { readRuns, runsAfterCompletion, waitFor, writeFaultProject } from "./fault-project.js";

const TOKEN = "host-kill-token";
const LENGTH = 6;
const ROUNDS = 2;
const PER_ROUND = 12;

interface Serve {
  child: ChildProcess;
  client: ConductorClient;
}

/** Starts `conductor serve` on a free port with the test's token; resolves once it listens. */
async function startHost(dir: string, args: string[]): Promise<Serve> {
  const served = await startServe(dir, {
    args: ["--token", TOKEN, "--no-debugger", ...args],
    // Temporary files of a killed server (its blob directory) land beside the project, removed after the test.
    env: { ...serveEnvironment(), TMPDIR: join(dir, "..", "tmp") },
  });
  return { child: served.child, client: createClient({ baseUrl: served.url, token: TOKEN }) };
}

async function kill(serve: Serve): Promise<void> {
  const exited = new Promise((resolve) => serve.child.once("exit", resolve));
  serve.child.kill("SIGKILL");
  await exited;
}

describe("conductor serve killed mid-run under load", () => {
  let root: string;
  let dir: string;
  let serve: Serve | undefined;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "conductor-host-kill-"));
    dir = join(root, "project");
    await mkdir(dir);
    await mkdir(join(root, "tmp"));
    await writeFaultProject(dir, { length: LENGTH, ms: 150 });
  });

  afterAll(async () => {
    if (serve !== undefined && serve.child.exitCode === null) {
      const exited = new Promise((resolve) => serve!.child.once("exit", resolve));
      serve.child.kill("SIGTERM");
      await exited;
    }
    await rm(root, { recursive: true, force: true });
  });

  it("resumes every execution, loses none, and re-runs no completed node", async () => {
    const acknowledged: string[] = [];
    serve = await startHost(dir, []);
    for (let round = 0; round < ROUNDS; round++) {
      const client = serve.client;
      for (let i = 0; i < PER_ROUND; i++) {
        const { executionId } = await client.startExecution({
          blueprint: { case: "blueprintId", value: "relay" },
        });
        acknowledged.push(executionId);
      }
      // Kill the host once the executions of this round are under way, some nodes completed and some running.
      const started = new Set(acknowledged.slice(-PER_ROUND));
      await waitFor("nodes of this round to run", async () => {
        const runs = (await readRuns(dir)).filter((run) => started.has(run.executionId));
        return runs.length >= PER_ROUND * 2;
      });
      await kill(serve);
      serve = await startHost(dir, ["--resume"]);
    }

    // Every acknowledged execution ends, completed, with the value relayed through every node.
    const final = serve.client;
    await waitFor(
      "every execution to end",
      async () => {
        const { executions } = await final.listExecutions({ limit: 1000 });
        return executions.filter((summary) => summary.status === ExecutionStatus.RUNNING).length === 0;
      },
      1200,
      100,
    );
    const attempts = new Map<string, number>();
    for (const executionId of acknowledged) {
      const { execution } = await final.getExecution({ executionId });
      expect(execution?.status, executionId).toBe(ExecutionStatus.COMPLETED);
      expect(JSON.parse(execution!.outputsJson)).toEqual({ value: LENGTH });
      // By the journal: no node started again after its completion was recorded. The attempt that completed a
      // node is that of its last start (read from the events, because GetExecution after a resume lists only the
      // nodes of the resumed part).
      const completed = new Set<string>();
      const lastAttempt = new Map<string, number>();
      for await (const { event } of final.watchExecution({ executionId })) {
        if (event?.kind.case === "nodeStarted") {
          expect(completed.has(event.nodeId), `${executionId} ${event.nodeId}`).toBe(false);
          lastAttempt.set(event.nodeId, event.kind.value.attempt);
        }
        if (event?.kind.case === "nodeCompleted") {
          completed.add(event.nodeId);
          attempts.set(`${executionId} ${event.nodeId}`, lastAttempt.get(event.nodeId) ?? 0);
        }
      }
      expect(completed.size).toBe(LENGTH);
    }

    // By the nodes' own records: every run's attempt is at most the attempt that completed it, and the kills
    // caught nodes mid-run (some ran more than once).
    const runs = await readRuns(dir);
    expect(
      runsAfterCompletion(runs, (executionId, nodeId) => attempts.get(`${executionId} ${nodeId}`)),
    ).toEqual([]);
    expect(runs.length).toBeGreaterThan(acknowledged.length * LENGTH);
  });
});
