import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineNode } from "@conductor/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { hangOnce } from "../../../test/fixtures/nodes/policy-nodes.js";
import { childBlueprint, parentBlueprint } from "../../../test/fixtures/pinned-blueprints.js";
import { createExecutionStarter, type ExecutionStarter } from "../api/execution-starter.js";
import { TOKEN_HOLDER } from "../api/identity.js";
import { type Conductor, type ConductorOptions, createConductor } from "../conductor.js";
import { ConductorError } from "../errors.js";
import type { LeaseOptions } from "../store/execution-leases.js";
import { type DeploymentStore, openDeploymentStore } from "./deployment-store.js";
import { createDeployments, type Deployments } from "./deployments.js";

/** A parent whose `hold` node (`holdType`) comes before its sub-blueprint node `call`. */
function parent(id: string, holdType: string, holdInputs: string): string {
  return parentBlueprint({
    id,
    inputs: "name: { schema: { type: string }, default: Ada }",
    first: { name: "hold", node: `{ type: ${holdType}, inputs: { value: inputs.name${holdInputs} } }` },
  });
}

/** Holds every execution at its `test.gate` node until the test opens the gate. */
function createGate() {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const waiting = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const node = defineNode({
    type: "test.gate",
    input: { value: z.string() },
    output: { value: z.string() },
    run: async ({ value }) => {
      reached();
      await opened;
      return { value };
    },
  });
  return { node, open, waiting };
}

describe("deployment pins", () => {
  let dir: string;
  const gate = createGate();
  const hosts: Conductor[] = [];
  const stores: DeploymentStore[] = [];

  const open = async (lease: LeaseOptions = {}, options: ConductorOptions = {}) => {
    const conductor = await createConductor({
      projectDir: dir,
      nodes: [gate.node, hangOnce],
      journal: { path: join(dir, ".conductor", "journal.db"), lease },
      ...options,
    });
    hosts.push(conductor);
    const store = openDeploymentStore(dir);
    stores.push(store);
    const deployments = createDeployments(conductor, store);
    return { conductor, deployments, starter: createExecutionStarter(conductor, deployments) };
  };
  const deploy = (deployments: Deployments, text: string, source: string) =>
    deployments.deploy({ text, source, namespace: "default", actor: "cli:test", origin: "cli" });
  const start = async (starter: ExecutionStarter, id: string, version?: number) => {
    const prepared = await starter.prepare({ case: "blueprintId", value: id }, TOKEN_HOLDER, version);
    const handle = prepared.start({});
    starter.recordStart(prepared, handle.executionId);
    return handle;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "deployment-pins-"));
    await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\nblueprints: [.]\n");
    await writeFile(join(dir, "child.blueprint.yaml"), childBlueprint("v1"));
    await writeFile(join(dir, "gated.blueprint.yaml"), parent("gated", "test.gate", ""));
    await writeFile(
      join(dir, "resumable.blueprint.yaml"),
      parent("resumable", "test.hang-once", ", ms: { value: 600000 }"),
    );
  });
  afterEach(async () => {
    for (const host of hosts.splice(0)) await host.close();
    for (const store of stores.splice(0)) store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a running execution keeps the sub-blueprint its version pinned when the child is deployed anew", async () => {
    const { deployments, starter } = await open();
    const first = await deploy(deployments, parent("gated", "test.gate", ""), "gated.blueprint.yaml");
    // Never deployed, the child is pinned from the project's file.
    expect(first.deployment.subBlueprints.child).toMatchObject({
      version: 0,
      from: "child.blueprint.yaml",
      document: childBlueprint("v1"),
    });

    const running = await start(starter, "gated");
    await gate.waiting;
    // While it waits before its sub-blueprint node, the child changes and is deployed.
    await writeFile(join(dir, "child.blueprint.yaml"), childBlueprint("v2"));
    const childVersion = await deploy(deployments, childBlueprint("v2"), "child.blueprint.yaml");
    expect(childVersion.deployment.version).toBe(1);
    gate.open();
    const result = await running.result;
    expect(result.status, result.failure?.message).toBe("completed");
    expect(result.outputs).toEqual({ text: "child v1 got Ada" });

    // A later start of the same version pins the same child.
    expect((await (await start(starter, "gated", 1)).result).outputs).toEqual({ text: "child v1 got Ada" });
    // Deployed again, the parent pins the child's current deployed version.
    const second = await deploy(deployments, parent("gated", "test.gate", ""), "gated.blueprint.yaml");
    expect(second.deployment.version).toBe(2);
    expect(second.deployment.subBlueprints.child).toMatchObject({ version: 1, from: "version 1" });
    expect((await (await start(starter, "gated")).result).outputs).toEqual({ text: "child v2 got Ada" });
    expect((await (await start(starter, "gated", 1)).result).outputs).toEqual({ text: "child v1 got Ada" });
  });

  it("runs a version whose pinned child takes other inputs than the child's file of now", async () => {
    const { deployments, starter } = await open();
    await deploy(deployments, parent("gated", "test.gate", ""), "gated.blueprint.yaml");
    // The child's file now takes "word", not "value": the version still runs the child it pinned.
    await writeFile(
      join(dir, "child.blueprint.yaml"),
      childBlueprint("v2").replace(
        "  value: { schema: { type: string } }",
        "  word: { schema: { type: string } }",
      ),
    );
    const running = await start(starter, "gated", 1);
    gate.open();
    const result = await running.result;
    expect(result.status, result.failure?.message).toBe("completed");
    expect(result.outputs).toEqual({ text: "child v1 got Ada" });
  });

  it("pins sub-blueprints to any depth, and a re-run keeps the version", async () => {
    const { conductor, deployments, starter } = await open();
    await writeFile(
      join(dir, "middle.blueprint.yaml"),
      `conductor: blueprint/v1
id: middle
inputs:
  value: { schema: { type: string } }
outputs:
  text: inner.text
nodes:
  inner: { type: blueprint.child, inputs: { value: inputs.value } }
`,
    );
    const top = `conductor: blueprint/v1
id: top
outputs:
  text: call.text
nodes:
  call: { type: blueprint.middle, inputs: { value: { value: "Ada" } } }
`;
    const deployed = await deploy(deployments, top, "top.blueprint.yaml");
    expect(Object.keys(deployed.deployment.subBlueprints).sort()).toEqual(["child", "middle"]);
    await writeFile(join(dir, "child.blueprint.yaml"), childBlueprint("v2"));
    await deploy(deployments, childBlueprint("v2"), "child.blueprint.yaml");
    // The grandchild runs as the top's version pinned it, not as deployed since.
    const result = await (await start(starter, "top")).result;
    expect(result.status, result.failure?.message).toBe("completed");
    expect(result.outputs).toEqual({ text: "child v1 got Ada" });
    // A re-run of the execution runs the same version, and records it.
    const rerun = await conductor.rerun(result.executionId, "call");
    expect((await rerun.result).outputs).toEqual({ text: "child v1 got Ada" });
    expect(deployments.store.executionDeployment(rerun.executionId)).toMatchObject({
      blueprintId: "top",
      version: 1,
    });
  });

  it("an execution resumed after its host died runs the pinned child, and is refused when its code changed", async () => {
    // The first host: as the second sees it, dead once the execution waits in its hanging node.
    let firstAlive = true;
    const first = await open({ label: "first", renewEveryMs: 20 });
    await deploy(
      first.deployments,
      parent("resumable", "test.hang-once", ", ms: { value: 600000 }"),
      "r.yaml",
    );
    const version1 = first.deployments.store.current("default", "resumable")!;
    // Version 2 is version 1 with a code identity of the in-process runtime that is not the code of now (as after
    // an edit of the project's node modules).
    expect(Object.keys(version1.code)).toEqual(["blueprints", "builtin"]);
    const { version: _v, current: _c, ...fields } = version1;
    const stale = first.deployments.store.publish({
      ...fields,
      digest: "0".repeat(64),
      code: { ...version1.code, builtin: "0".repeat(64) },
    }).deployment;
    expect(stale.version).toBe(2);

    const started: string[] = [];
    for (const version of [1, 2]) {
      const prepared = await first.starter.prepare(
        { case: "blueprintId", value: "resumable" },
        TOKEN_HOLDER,
        version,
      );
      let held!: () => void;
      const holding = new Promise<void>((resolve) => {
        held = resolve;
      });
      const handle = prepared.start(
        {},
        { onEvent: (event) => event.type === "node.started" && event.nodeId === "hold" && held() },
      );
      first.starter.recordStart(prepared, handle.executionId);
      await holding;
      started.push(handle.executionId);
    }
    const [pinnedId, staleId] = started as [string, string];
    // The child is deployed anew meanwhile.
    await writeFile(join(dir, "child.blueprint.yaml"), childBlueprint("v2"));
    await deploy(first.deployments, childBlueprint("v2"), "child.blueprint.yaml");
    firstAlive = false;

    const notices: string[] = [];
    const second = await open({ label: "second", isAlive: () => firstAlive });
    const resumed = await second.conductor.resume(pinnedId);
    const result = await resumed.result;
    expect(result.status, result.failure?.message).toBe("completed");
    expect(result.outputs).toEqual({ text: "child v1 got Ada" });

    const refused = await second.conductor.resume(staleId).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ConductorError);
    expect((refused as ConductorError).code).toBe("code_changed");
    expect((refused as ConductorError).message).toBe(
      `execution "${staleId}" runs version 2 of blueprint "resumable" (namespace "default"), and the code of runtime "builtin" changed since that version was deployed; its remaining nodes would run other code than its first ones. Restore that code, or resume it with the code of now (conductor resume ${staleId} --allow-code-change)`,
    );

    const third = await open(
      { label: "third", isAlive: () => false },
      { codeChange: "warn", onNotice: (message) => notices.push(message) },
    );
    const allowed = await (await third.conductor.resume(staleId)).result;
    expect(allowed.outputs).toEqual({ text: "child v1 got Ada" });
    expect(notices).toContain(
      `execution "${staleId}" runs version 2 of blueprint "resumable" (namespace "default"), and the code of runtime "builtin" changed since that version was deployed; resuming it with the code there is now`,
    );
  });
});
