/**
 * Interrupting `conductor run` as a terminal does: Ctrl-C sends SIGINT to the whole foreground process group, so
 * these tests start the command in a process group of its own and signal that group. The execution must be
 * cancelled through the runtimes (the Node sidecar here, which must not die from the signal itself), recorded as
 * cancelled, printed, and the command must exit 128 + the signal's number. A second Ctrl-C ends it at once. A
 * reader that closes stdout early cancels the execution too, and a node's console.log never lands on stdout.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningCommand, startConductor } from "../fixtures/conductor-command.js";

const cli = fileURLToPath(new URL("../../host/bin/conductor.js", import.meta.url));
const policyNodes = fileURLToPath(new URL("../fixtures/nodes/policy-nodes.ts", import.meta.url));

/** Starts a `conductor` command in a process group of its own. */
function start(args: string[], cwd: string): RunningCommand {
  return startConductor(args, { cwd, detached: true });
}

/** Waits (boundedly) until `condition` holds. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting until ${what}`);
}

/** Processes whose working directory is `dir`: the runtimes a command started in the project. */
async function processesIn(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => "");
    if (cwd === dir) found.push(Number(entry));
  }
  return found;
}

describe("conductor run, interrupted", () => {
  let dir: string;
  const started: RunningCommand[] = [];
  const cleanups: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "interrupt-"));
    await writeFile(
      join(dir, "conductor.yaml"),
      `conductor: project/v1\nnodes: [${JSON.stringify(policyNodes)}]\nruntimes:\n  node: { kind: node, modules: [${JSON.stringify(policyNodes)}] }\n`,
    );
    // The gate runs in the Node sidecar, a child process, and stops when cancelled.
    await writeFile(
      join(dir, "wait.yaml"),
      `conductor: blueprint/v1
outputs: { value: gate.value }
nodes:
  gate: { type: test.hang-once, runtime: node, inputs: { value: { value: 1 }, ms: { value: 600000 } } }
`,
    );
    // A worker in the host that sends a heartbeat every 100 ms: with --events, a line on stdout each time.
    await writeFile(
      join(dir, "beat.yaml"),
      "conductor: blueprint/v1\nnodes:\n  work: { type: test.worker, config: { ms: 600000, heartbeatEveryMs: 100 } }\n",
    );
    await writeFile(
      join(dir, "stubborn.yaml"),
      `conductor: blueprint/v1
nodes:
  stuck: { type: test.stubborn, inputs: { ms: { value: 600000 } } }
  side: { type: test.hang-once, runtime: node, inputs: { value: { value: 1 }, ms: { value: 600000 } } }
`,
    );
    await writeFile(
      join(dir, "print.yaml"),
      `conductor: blueprint/v1
outputs: { text: say.text }
nodes:
  say: { type: test.print, inputs: { text: { value: "a line from a node" } } }
`,
    );
  });

  afterAll(async () => {
    for (const command of started) if (command.child.exitCode === null) command.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    for (const other of cleanups) await rm(other, { recursive: true, force: true });
  });

  const history = async () =>
    JSON.parse(
      (await promisify(execFile)(process.execPath, [cli, "history", "--json", "--project", dir])).stdout,
    ) as { executionId: string; status: string; orphaned?: string }[];

  it("Ctrl-C to the process group cancels through the sidecar, records, prints the JSON outcome and exits 130", async () => {
    const command = start(["run", "wait.yaml", "--json", "--events"], dir);
    started.push(command);
    await until(() => command.stdout().includes('"type":"node.started"'), "the gate runs");
    expect((await processesIn(dir)).length).toBeGreaterThan(0);
    process.kill(-command.child.pid!, "SIGINT");
    expect(await command.exited).toBe(130);

    const result = JSON.parse(command.stdout().slice(command.stdout().indexOf("\n{\n") + 1)) as {
      executionId: string;
      status: string;
      failure: { message: string };
      nodes: Record<string, { status: string; failure?: { type: string } }>;
    };
    expect(result.status).toBe("cancelled");
    expect(result.failure.message).toBe("cancelled by SIGINT (Ctrl-C)");
    // Cancelled by its runtime, which got Cancel: not lost with a runtime killed by the signal.
    expect(result.nodes.gate).toMatchObject({ status: "cancelled" });
    expect(command.stderr()).toContain(
      "conductor: SIGINT: cancelling the execution (Ctrl-C again exits at once)",
    );
    expect((await history()).find((entry) => entry.executionId === result.executionId)?.status).toBe(
      "cancelled",
    );
    await until(async () => (await processesIn(dir)).length === 0, "the sidecar has exited");
  });

  it("Ctrl-C while the runtimes start: recorded cancelled, not left an orphan that a server would run", async () => {
    // A project of its own, so that no other test starts its runtime.
    const dir = await mkdtemp(join(tmpdir(), "interrupt-late-"));
    cleanups.push(dir);
    await writeFile(
      join(dir, "conductor.yaml"),
      "conductor: project/v1\nruntimes:\n  late: { kind: node, modules: [./late.mjs] }\n",
    );
    // A module that holds its runtime's start (and so its handshake) until the test lets it go.
    await writeFile(
      join(dir, "late.mjs"),
      `import { existsSync, writeFileSync } from "node:fs";
writeFileSync(new URL("./late-starting", import.meta.url), "");
for (let i = 0; i < 1200 && !existsSync(new URL("./late-go", import.meta.url)); i++) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
export * from ${JSON.stringify(policyNodes)};
`,
    );
    await writeFile(
      join(dir, "late.yaml"),
      `conductor: blueprint/v1
outputs: { value: gate.value }
nodes:
  gate: { type: test.hang-once, runtime: late, inputs: { value: { value: 1 }, ms: { value: 600000 } } }
`,
    );
    const command = start(["run", "late.yaml", "--json"], dir);
    started.push(command);
    await until(() => existsSync(join(dir, "late-starting")), "the runtime is starting");
    process.kill(-command.child.pid!, "SIGINT");
    await until(() => command.stderr().includes("cancelling the execution"), "the cancellation begins");
    await writeFile(join(dir, "late-go"), "");
    expect(await command.exited, command.stderr()).toBe(130);
    const result = JSON.parse(command.stdout()) as {
      executionId: string;
      status: string;
      nodes: Record<string, { status: string }>;
    };
    expect(result.status).toBe("cancelled");
    expect(result.nodes.gate!.status).toBe("pending");
    // Its only execution, recorded cancelled: neither running nor an orphan.
    const recorded = JSON.parse(
      (await promisify(execFile)(process.execPath, [cli, "history", "--json", "--project", dir])).stdout,
    ) as { executionId: string; status: string; orphaned?: string }[];
    expect(recorded).toEqual([
      expect.objectContaining({ executionId: result.executionId, status: "cancelled" }),
    ]);
    expect(recorded[0]!.orphaned).toBeUndefined();
    await until(async () => (await processesIn(dir)).length === 0, "the sidecar has exited");
  });

  it("SIGTERM cancels the same way, prints the outcome for people and exits 143", async () => {
    const command = start(["run", "wait.yaml"], dir);
    started.push(command);
    await until(() => command.stderr().includes("gate started on node"), "the gate runs");
    process.kill(-command.child.pid!, "SIGTERM");
    expect(await command.exited).toBe(143);
    expect(command.stderr()).toMatch(/cancelled in .+ \(execution [0-9a-f-]+\)/);
    const executionId = /\(execution ([0-9a-f-]+)\)/.exec(command.stderr())![1]!;
    expect((await history()).find((entry) => entry.executionId === executionId)?.status).toBe("cancelled");
    await until(async () => (await processesIn(dir)).length === 0, "the sidecar has exited");
  });

  it("a second Ctrl-C exits at once while a node ignores its cancellation, recording the execution cancelled", async () => {
    const command = start(["run", "stubborn.yaml"], dir);
    started.push(command);
    await until(
      () =>
        command.stderr().includes("stuck started on builtin") &&
        command.stderr().includes("side started on node"),
      "the stubborn node and the sidecar's node run",
    );
    expect((await processesIn(dir)).length).toBeGreaterThan(0);
    process.kill(-command.child.pid!, "SIGINT");
    await until(() => command.stderr().includes("cancelling the execution"), "the cancellation begins");
    process.kill(-command.child.pid!, "SIGINT");
    expect(await command.exited).toBe(130);
    expect(command.stderr()).toContain(
      "conductor: SIGINT again: exiting at once without waiting for the cancellation; the execution is recorded as cancelled",
    );
    const executionId = /execution ([0-9a-f-]+) of stubborn started/.exec(command.stderr())![1]!;
    // Cancelled, as its user asked, rather than an orphan that a server would resume.
    const recorded = (await history()).find((entry) => entry.executionId === executionId) as
      | { status: string; orphaned?: string; failure?: { message: string } }
      | undefined;
    expect(recorded).toMatchObject({
      status: "cancelled",
      failure: { message: "cancelled by SIGINT twice: the command exited without waiting for its nodes" },
    });
    expect(recorded?.orphaned).toBeUndefined();
    // The host exited without stopping the sidecar: the sidecar exits because its stdin closed.
    await until(async () => (await processesIn(dir)).length === 0, "the sidecar has exited");
  });

  it("a reader that closes stdout early (| head -1) cancels the execution, which is recorded so; exit 141", async () => {
    const command = start(["run", "beat.yaml", "--json", "--events"], dir);
    started.push(command);
    await until(() => command.stdout().includes('"type":"node.started"'), "the worker runs");
    const executionId = /"executionId":"([0-9a-f-]+)"/.exec(command.stdout())![1]!;
    // As `head -1` does once it has its line: the reading end goes away; the next event meets a closed pipe.
    command.child.stdout!.destroy();
    expect(await command.exited).toBe(141);
    expect(command.stderr()).toContain(
      "conductor: stdout was closed by its reader: cancelling the execution",
    );
    expect((await history()).find((entry) => entry.executionId === executionId)?.status).toBe("cancelled");
  });

  it("keeps a node's console.log off stdout, so --json output stays one JSON document", async () => {
    const run = await promisify(execFile)(process.execPath, [cli, "run", "print.yaml", "--json"], {
      cwd: dir,
    });
    expect(JSON.parse(run.stdout)).toMatchObject({
      status: "completed",
      outputs: { text: "a line from a node" },
    });
    expect(run.stderr).toContain("a line from a node\n");
  });
});
