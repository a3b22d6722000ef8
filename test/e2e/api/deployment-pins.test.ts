/**
 * What a deployed version pins, through the CLI as a user runs it: `conductor deploy` pins a blueprint's
 * sub-blueprints with it (deploying a new version of the child changes no version of the parent), and the schedules
 * of `conductor serve` run either the version they pin or the current one at each firing, recording it with the
 * execution; `conductor resume` refuses an execution of a version whose node code changed since it was deployed.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ExecutionStatus } from "@conductor/sdk/client";
import { afterAll, describe, expect, it } from "vitest";
import { type CommandResult, runConductor } from "../../fixtures/conductor-command.js";
import { childBlueprint, parentBlueprint } from "../../fixtures/pinned-blueprints.js";
import { type ListeningServe, serveEnvironment, startServe } from "../../fixtures/serve-process.js";
import { type ProtocolClient, protocolClient } from "./protocol-clients.js";

const results = fileURLToPath(new URL("../../../test-results/", import.meta.url));
const env = serveEnvironment();

/** The parent: its node `name` gives "parent <word>" to the child. */
function parent(word: string): string {
  return parentBlueprint({
    id: "parent",
    first: {
      name: "name",
      node: `{ type: core.passthrough, inputs: { value: { value: "parent ${word}" } } }`,
    },
  });
}

const PROJECT = `conductor: project/v1
blueprints: [.]
schedules:
  pinned: { blueprint: parent, version: 1, cron: "* * * * * *" }
  latest: { blueprint: parent, cron: "* * * * * *" }
`;

function conductor(args: string[], cwd: string): Promise<CommandResult> {
  return runConductor(args, { cwd, env: { ...env, NO_COLOR: "1" } });
}

async function deploy(dir: string, file: string): Promise<number> {
  const answer = await conductor(["deploy", file, "--json"], dir);
  expect(answer.code, answer.stderr).toBe(0);
  return (JSON.parse(answer.stdout) as { deployment: { version: number } }).deployment.version;
}

/** `conductor serve` on the project, without the debugger; resolves once it listens. */
function startServer(dir: string, args: string[] = []): Promise<ListeningServe> {
  return startServe(dir, { args: ["--no-debugger", ...args] });
}

/** The first completed execution of `schedule` not in `seen`, with its version and output (bounded wait). */
async function nextFiring(
  api: ProtocolClient,
  schedule: string,
  seen: Set<string>,
): Promise<{ executionId: string; version: number | undefined; text: string }> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const { executions } = await api.listExecutions({ blueprintId: "parent", limit: 200 });
    const fired = executions.find(
      (execution) =>
        execution.executionId.startsWith(`${schedule}-`) &&
        !execution.executionId.includes("/") &&
        execution.status === ExecutionStatus.COMPLETED &&
        !seen.has(execution.executionId),
    );
    if (fired !== undefined) {
      seen.add(fired.executionId);
      const { execution } = await api.getExecution({ executionId: fired.executionId });
      return {
        executionId: fired.executionId,
        version: execution?.deployment?.version,
        text: (JSON.parse(execution?.outputsJson ?? "{}") as { text: string }).text,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`schedule "${schedule}" fired no execution in time`);
}

describe("deployed versions pin their sub-blueprints, and schedules run deployed versions", () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it("deploys through the CLI and serves schedules pinned to a version or following the current one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "conductor-pins-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, "conductor.yaml"), PROJECT);
    await writeFile(join(dir, "child.blueprint.yaml"), childBlueprint("v1"));
    await writeFile(join(dir, "parent.blueprint.yaml"), parent("A"));

    // Parent version 1 pins the child's file as it is now.
    expect(await deploy(dir, "parent.blueprint.yaml")).toBe(1);
    // The child changes and is deployed: its version 1 says "v2". Parent version 1 still runs the child it pinned.
    await writeFile(join(dir, "child.blueprint.yaml"), childBlueprint("v2"));
    expect(await deploy(dir, "child.blueprint.yaml")).toBe(1);

    // A parent deployed now pins the child's current deployed version.
    await writeFile(join(dir, "parent.blueprint.yaml"), parent("B"));
    expect(await deploy(dir, "parent.blueprint.yaml")).toBe(2);
    const listed = await conductor(["deployments", "list", "parent", "--json"], dir);
    expect(listed.code, listed.stderr).toBe(0);
    const versions = (JSON.parse(listed.stdout) as { deployments: Array<{ subBlueprints: unknown }> })
      .deployments;
    expect(versions.map((version) => version.subBlueprints)).toEqual([
      { child: { version: 0, from: "child.blueprint.yaml" } },
      { child: { version: 1, from: "version 1" } },
    ]);
    const diff = await conductor(["deployments", "diff", "parent", "1", "2"], dir);
    expect(diff.stdout).toContain("~ sub-blueprint child");

    const served = await startServer(dir);
    cleanup.push(() => served.stop());
    const token = (await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim();
    const api = protocolClient("connect", served.url, token);
    cleanup.push(async () => api.close());
    const seen = new Set<string>();
    // ListSchedules says which schedule pins a version.
    const { schedules } = await api.listSchedules({});
    expect(
      Object.fromEntries(schedules.map((schedule) => [schedule.id, schedule.version ?? "current"])),
    ).toEqual({ pinned: 1, latest: "current" });

    expect(await nextFiring(api, "pinned", seen)).toMatchObject({
      version: 1,
      text: "child v1 got parent A",
    });
    expect(await nextFiring(api, "latest", seen)).toMatchObject({
      version: 2,
      text: "child v2 got parent B",
    });

    // Deployed while the server runs, the new version is what "latest" runs from a later firing on; the pinned
    // schedule keeps version 1.
    await writeFile(join(dir, "parent.blueprint.yaml"), parent("C"));
    expect(await deploy(dir, "parent.blueprint.yaml")).toBe(3);
    let latest = await nextFiring(api, "latest", seen);
    for (let firing = 0; firing < 10 && latest.version !== 3; firing++) {
      // A firing that started before the deploy finished still ran version 2.
      expect(latest).toMatchObject({ version: 2, text: "child v2 got parent B" });
      latest = await nextFiring(api, "latest", seen);
    }
    expect(latest).toMatchObject({ version: 3, text: "child v2 got parent C" });
    expect(await nextFiring(api, "pinned", seen)).toMatchObject({
      version: 1,
      text: "child v1 got parent A",
    });
  });

  it("conductor resume refuses an execution of a version whose node code changed, unless --allow-code-change", async () => {
    // Inside the repository, so the project's node module imports @conductor/sdk and zod from its node_modules.
    await mkdir(results, { recursive: true });
    const dir = await mkdtemp(join(results, "pins-code-"));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(
      join(dir, "conductor.yaml"),
      "conductor: project/v1\nblueprints: [.]\nnodes: [./hold.mjs]\n",
    );
    // Version one of the node waits (the host is killed meanwhile); the edited version returns at once.
    const hold = (body: string) => `import { defineNode } from "@conductor/sdk";
import { z } from "zod";
export const hold = defineNode({
  type: "project.hold",
  input: { value: z.string() },
  output: { value: z.string() },
  run: ${body},
});
`;
    await writeFile(
      join(dir, "hold.mjs"),
      hold("({ value }) => new Promise((resolve) => setTimeout(() => resolve({ value }), 600_000))"),
    );
    await writeFile(
      join(dir, "held.blueprint.yaml"),
      `conductor: blueprint/v1
id: held
outputs:
  text: say.text
nodes:
  hold: { type: project.hold, inputs: { value: { value: "Ada" } } }
  say: { type: core.template, config: { template: "held {{.}}" }, inputs: { data: hold.value } }
`,
    );
    expect(await deploy(dir, "held.blueprint.yaml")).toBe(1);

    const served = await startServer(dir, ["--no-resume"]);
    const token = (await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim();
    const api = protocolClient("connect", served.url, token);
    const { executionId } = await api.startExecution({ blueprint: { case: "blueprintId", value: "held" } });
    // Once the node runs, the server dies.
    for await (const { event } of api.watchExecution({ executionId })) {
      if (event?.kind.case === "nodeStarted" && event.nodeId === "hold") break;
    }
    api.close();
    await served.stop("SIGKILL");

    // The node's code changes.
    await writeFile(join(dir, "hold.mjs"), hold('({ value }) => ({ value: value + "!" })'));
    const refused = await conductor(["resume", executionId], dir);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain(
      `execution "${executionId}" runs version 1 of blueprint "held" (namespace "default"), and the code of runtime "builtin" changed since that version was deployed; its remaining nodes would run other code than its first ones. Restore that code, or resume it with the code of now (conductor resume ${executionId} --allow-code-change)`,
    );

    const allowed = await conductor(["resume", executionId, "--allow-code-change", "--json"], dir);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain(
      "changed since that version was deployed; resuming it with the code there is now",
    );
    expect(allowed.stdout).toContain('"held Ada!"');
  });
});
