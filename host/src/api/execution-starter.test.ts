import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, type ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Conductor, createConductor } from "../conductor.js";
import type { ShellAccess } from "../project/project-access.js";
import { createExecutionStarter } from "./execution-starter.js";
import { type Identity, TOKEN_HOLDER } from "./identity.js";

const shellDocument = JSON.stringify({
  conductor: "blueprint/v1",
  id: "inline-shell",
  outputs: { out: "run.stdout" },
  nodes: { run: { type: "core.shell", config: { command: ["echo", "hi"] } } },
});
const plainDocument = JSON.stringify({
  conductor: "blueprint/v1",
  id: "inline-plain",
  outputs: { value: "c.value" },
  nodes: { c: { type: "core.constant", config: { value: 1 } } },
});

async function refusal(promise: Promise<unknown>): Promise<ConnectError | undefined> {
  return promise.then(
    () => undefined,
    (error: unknown) => error as ConnectError,
  );
}

describe("createExecutionStarter()", () => {
  let dir: string;
  let conductor: Conductor | undefined;
  const open = async (shell?: ShellAccess) => {
    conductor = await createConductor({
      project: {
        dir,
        blueprints: ["."],
        nodes: [],
        runtimes: {},
        ...(shell === undefined ? {} : { access: { shell } }),
      },
    });
    return createExecutionStarter(conductor);
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-starter-"));
    await writeFile(
      join(dir, "own.blueprint.yaml"),
      "conductor: blueprint/v1\nid: own\noutputs: { out: run.stdout }\nnodes:\n  run: { type: core.shell, config: { command: [echo, own] } }\n",
    );
  });
  afterEach(async () => {
    await conductor?.close();
    conductor = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it("prepares an inline blueprint for a caller allowed to send one", async () => {
    const starter = await open();
    const prepared = await starter.prepare({ case: "document", value: plainDocument }, TOKEN_HOLDER);
    expect((await prepared.run()).outputs).toEqual({ value: 1 });
  });

  it("refuses an inline blueprint to a caller without the run-inline permission, and runs its project blueprints", async () => {
    const starter = await open();
    const runner: Identity = {
      name: "deploy-bot",
      permissions: new Set(["read", "run"]),
      namespace: "default",
      role: "operator",
    };
    const error = await refusal(starter.prepare({ case: "document", value: plainDocument }, runner));
    expect(error?.code).toBe(Code.PermissionDenied);
    expect(error?.rawMessage).toBe(
      'caller "deploy-bot" (role operator) may not run a blueprint sent inline: it needs the "run-inline" permission, which the roles editor and admin have',
    );
    const own = await starter.prepare({ case: "blueprintId", value: "own" }, runner);
    expect((await own.run()).outputs).toEqual({ out: "own" });
  });

  it("refuses core.shell in an inline blueprint unless access.shell is any, naming the node and the setting", async () => {
    const keeps = await open();
    const kept = await refusal(keeps.prepare({ case: "document", value: shellDocument }, TOKEN_HOLDER));
    expect(kept?.code).toBe(Code.PermissionDenied);
    expect(kept?.rawMessage).toBe(
      'blueprint "inline-shell" was sent inline and runs core.shell (nodes.run), which this project allows only its own blueprints (access.shell is "project" in conductor.yaml); add the blueprint to the project, or ask its owner to set access.shell to "any"',
    );
    await conductor!.close();

    const none = await open("none");
    const refused = await refusal(none.prepare({ case: "document", value: shellDocument }, TOKEN_HOLDER));
    expect(refused?.rawMessage).toMatch(/which this project allows no blueprint \(access\.shell is "none"/);
    await conductor!.close();

    const any = await open("any");
    const prepared = await any.prepare({ case: "document", value: shellDocument }, TOKEN_HOLDER);
    expect((await prepared.run()).outputs).toEqual({ out: "hi" });
  });
});
