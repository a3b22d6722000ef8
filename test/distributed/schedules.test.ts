/**
 * Schedules run by real `conductor serve` processes: from the journal (one server, restarted), and shared through
 * a real Redis by two servers, each in its own project directory, where every slot must start exactly one
 * execution. The schedule fires every second; the tests wait (bounded) for slots to pass and assert which
 * executions exist, never how long anything took.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandResult, runConductor } from "../fixtures/conductor-command.js";
import { startServe } from "../fixtures/serve-process.js";
import { waitFor } from "../fixtures/wait-for.js";
import { clusterEnvironment, type Member, stop, TOKEN } from "./cluster.js";
import { startRedis, type TestRedis } from "./redis-server.js";

async function writeScheduledProject(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "conductor.yaml"),
    `conductor: project/v1
blueprints: [.]
schedules:
  tick:
    blueprint: echo
    cron: "* * * * * *"
    timezone: Europe/Paris
    inputs: { word: hello }
`,
  );
  await writeFile(
    join(dir, "echo.blueprint.yaml"),
    `conductor: blueprint/v1
id: echo
inputs:
  word: { schema: { type: string } }
outputs:
  word: pass.value
nodes:
  pass: { type: core.passthrough, inputs: { value: inputs.word } }
`,
  );
}

interface Server extends Member {
  url: string;
}

/** `conductor serve` on port 0 with the project in `dir`, sharing its schedules through `redisUrl` if given. */
async function startServer(name: string, dir: string, redisUrl?: string): Promise<Server> {
  const served = await startServe(dir, {
    args: ["--token", TOKEN, "--no-debugger", ...(redisUrl === undefined ? [] : ["--redis", redisUrl])],
    env: clusterEnvironment,
  });
  return { name, ...served };
}

async function call<T>(server: Server, method: string, body: unknown = {}): Promise<T> {
  const answer = await fetch(`${server.url}/conductor.api.v1.ConductorService/${method}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!answer.ok) throw new Error(`${method} answered ${answer.status}: ${await answer.text()}`);
  return (await answer.json()) as T;
}

interface Listed {
  executionId: string;
  status: string;
}

async function tickExecutions(server: Server): Promise<Listed[]> {
  const { executions = [] } = await call<{ executions?: Listed[] }>(server, "ListExecutions", {
    limit: 1000,
  });
  return executions.filter((execution) => execution.executionId.startsWith("tick-"));
}

/** Runs `conductor schedules` on the project in `dir`, with `args`, to its end. */
function showSchedules(dir: string, ...args: string[]): Promise<CommandResult> {
  return runConductor(["schedules", "--project", dir, ...args], { cwd: dir, env: clusterEnvironment });
}

describe("schedules run by conductor serve", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "conductor-schedules-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("fires every second from the journal, with the schedule's inputs, and lists the schedule", async () => {
    const dir = join(root, "local");
    await writeScheduledProject(dir);
    const server = await startServer("local", dir);
    try {
      expect(server.output()).toContain("schedules tick (fired slots kept in the journal");
      await waitFor(
        "two executions of schedule tick",
        async () => (await tickExecutions(server)).length >= 2,
        600,
        100,
      );
      const executions = await tickExecutions(server);
      expect(new Set(executions.map((execution) => execution.executionId)).size).toBe(executions.length);
      const first = executions.at(-1)!;
      expect(first.executionId).toMatch(/^tick-\d{8}T\d{6}Z$/);
      await waitFor(
        `execution ${first.executionId} to complete`,
        async () => (await getStatus(server, first.executionId)) === "EXECUTION_STATUS_COMPLETED",
        600,
        100,
      );
      const detail = await call<{ execution: { outputsJson: string } }>(server, "GetExecution", {
        executionId: first.executionId,
      });
      expect(JSON.parse(detail.execution.outputsJson)).toEqual({ word: "hello" });
      const listed = await call<{ mode: string; schedules: Record<string, unknown>[] }>(
        server,
        "ListSchedules",
      );
      expect(listed.mode).toBe("local");
      expect(listed.schedules).toHaveLength(1);
      expect(listed.schedules[0]).toMatchObject({
        id: "tick",
        blueprintId: "echo",
        cron: "* * * * * *",
        timezone: "Europe/Paris",
        inputsJson: '{"word":"hello"}',
        catchUp: "latest",
      });
      expect(String(listed.schedules[0]!.lastExecutionId)).toMatch(/^tick-/);
      expect(await call<{ workers?: unknown[] }>(server, "ListWorkers")).toEqual({});
    } finally {
      await stop(server);
    }
    const shown = await showSchedules(dir, "--json");
    expect(shown.code).toBe(0);
    const rows = JSON.parse(shown.stdout) as { id: string; last: { executionId: string } | null }[];
    expect(rows.map((row) => row.id)).toEqual(["tick"]);
    expect(rows[0]!.last?.executionId).toMatch(/^tick-\d{8}T\d{6}Z$/);
    const table = await showSchedules(dir);
    expect(table.stdout.split("\n")[0]).toMatch(/^SCHEDULE\s+BLUEPRINT\s+CRON\s+TIME ZONE\s+NEXT \(UTC\)/);
    expect(table.stdout).toContain("Europe/Paris");
  });

  it("refuses to serve a schedule naming an unknown blueprint or inputs the blueprint does not have", async () => {
    const dir = join(root, "bad");
    await writeScheduledProject(dir);
    await writeFile(
      join(dir, "conductor.yaml"),
      'conductor: project/v1\nschedules:\n  tick: { blueprint: ehco, cron: "* * * * *" }\n',
    );
    await expect(startServer("bad", dir)).rejects.toThrow(
      /schedules\.tick\.blueprint: the project has no blueprint "ehco"; its blueprints are "echo"/,
    );
    await writeFile(
      join(dir, "conductor.yaml"),
      'conductor: project/v1\nschedules:\n  tick: { blueprint: echo, cron: "* * * * *", inputs: { wrod: x } }\n',
    );
    await expect(startServer("bad", dir)).rejects.toThrow(
      /schedules\.tick\.inputs do not fit blueprint "echo": .*no input "wrod"/s,
    );
    await writeFile(
      join(dir, "conductor.yaml"),
      'conductor: project/v1\nschedules:\n  tick: { blueprint: echo, cron: "0 25 * * *" }\n',
    );
    await expect(startServer("bad", dir)).rejects.toThrow(
      /schedules\.tick\.cron: "0 25 \* \* \*" is not a cron expression: .*25/,
    );
  });

  describe("with two servers sharing one Redis", () => {
    let redis: TestRedis;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("starts exactly one execution per slot, on one of the servers", async () => {
      const dirs = [join(root, "a"), join(root, "b")];
      for (const dir of dirs) await writeScheduledProject(dir);
      const servers = [
        await startServer("server-a", dirs[0]!, redis.url),
        await startServer("server-b", dirs[1]!, redis.url),
      ];
      let ids: string[] = [];
      try {
        expect(servers[0]!.output()).toContain("schedules tick (shared through Redis");
        const collect = async () => {
          const lists = await Promise.all(servers.map(tickExecutions));
          ids = lists.flat().map((execution) => execution.executionId);
          return lists;
        };
        // Enough slots that both servers had the chance to take some.
        await waitFor(
          "six slots of schedule tick started across both servers",
          async () => new Set((await collect()).flat().map((e) => e.executionId)).size >= 6,
          600,
          100,
        );
        const listed = await call<{ mode: string; schedules: { lastExecutionId?: string }[] }>(
          servers[1]!,
          "ListSchedules",
        );
        expect(listed.mode).toBe("redis");
        expect(listed.schedules[0]!.lastExecutionId).toMatch(/^tick-/);
      } finally {
        for (const server of servers) await stop(server);
      }
      // Each slot started once: no execution id on both servers, nor twice on one.
      expect(ids.length).toBeGreaterThanOrEqual(6);
      expect(new Set(ids).size).toBe(ids.length);
      const shown = await showSchedules(dirs[0]!, "--redis", redis.url, "--json");
      expect(shown.code).toBe(0);
      expect((JSON.parse(shown.stdout) as { last: { executionId: string } }[])[0]!.last.executionId).toMatch(
        /^tick-/,
      );
    });
  });
});

async function getStatus(server: Server, executionId: string): Promise<string> {
  const { execution } = await call<{ execution: { status: string } }>(server, "GetExecution", {
    executionId,
  });
  return execution.status;
}
