/**
 * Versioned deployments through the API and the `conductor deploy` / `conductor deployments` commands: a deployed
 * version runs whatever happens to the file later; starts pin a version or follow the current one; a running
 * execution keeps its version through a rollback; diff names the changed nodes; namespaces keep their versions to
 * themselves; a viewer may list but not deploy; every deploy and rollback is in the audit trail.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openTenancyStore } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandResult, runConductor } from "../../fixtures/conductor-command.js";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { httpRequest } from "./http-request.js";
import { CallError, type ProtocolClient, protocolClient } from "./protocol-clients.js";

const NOT_FOUND = 5;
const PERMISSION_DENIED = 7;

function conductor(args: string[], cwd: string): Promise<CommandResult> {
  return runConductor(args, { cwd, env: { ...process.env, NO_COLOR: "1" } });
}

/** The `greeting` blueprint, saying `word`; `extra` adds a node (so a diff has something to add). */
function greeting(word: string, extra = false): string {
  return `conductor: blueprint/v1
id: greeting
inputs:
  name: { schema: { type: string }, default: Ada }
outputs:
  text: say.text
nodes:
  say: { type: core.template, config: { template: "${word}, {{.}}" }, inputs: { data: inputs.name } }
${extra ? "  echo: { type: core.passthrough, inputs: { value: say.text } }\n" : ""}`;
}

/** A blueprint that waits before saying `word`, so it is still running while versions change. */
function slowGreeting(word: string): string {
  return `conductor: blueprint/v1
id: slow-greeting
outputs:
  text: say.value
nodes:
  wait: { type: core.delay, config: { ms: 300 }, inputs: { value: { value: "${word}" } } }
  say: { type: core.passthrough, inputs: { value: wait.value } }
`;
}

async function failure(call: () => Promise<unknown>): Promise<CallError> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CallError);
  return error as CallError;
}

describe("versioned deployments", () => {
  let fixture: ApiFixture;
  let api: ProtocolClient;
  const keys = { viewer: "", editorA: "", viewerA: "" };

  beforeAll(async () => {
    fixture = await startApiFixture({}, { "greeting.blueprint.yaml": greeting("Hello") });
    const store = await openTenancyStore(fixture.dir);
    try {
      keys.viewer = store.createKey({ name: "viewer", namespace: "default", role: "viewer" }).key;
      keys.editorA = store.createKey({ name: "editor a", namespace: "team-a", role: "editor" }).key;
      keys.viewerA = store.createKey({ name: "viewer a", namespace: "team-a", role: "viewer" }).key;
    } finally {
      store.close();
    }
    api = protocolClient("connect", fixture.server.url, fixture.token);
  });
  afterAll(async () => {
    api?.close();
    await fixture?.close();
  });

  const run = async (version?: number) => {
    const answer = await api.runExecution({
      blueprint: { case: "blueprintId", value: "greeting" },
      inputsJson: "{}",
      ...(version === undefined ? {} : { version }),
    });
    expect(answer.status, answer.failure?.message).toBe(2);
    return { text: (JSON.parse(answer.outputsJson) as { text: string }).text, answer };
  };

  it("runs the file until a version is deployed, then the deployed version whatever the file says", async () => {
    expect((await run()).text).toBe("Hello, Ada");
    expect((await run()).answer.version).toBe(0);

    const deployed = await conductor(
      ["deploy", "greeting.blueprint.yaml", "-m", "first", "--json"],
      fixture.dir,
    );
    expect(deployed.code, deployed.stderr).toBe(0);
    const first = JSON.parse(deployed.stdout) as {
      deployment: { version: number; digest: string };
      created: boolean;
    };
    expect(first).toMatchObject({ deployment: { version: 1 }, created: true });
    expect(first.deployment.digest).toMatch(/^[0-9a-f]{64}$/);

    // The file changes; "latest" is still version 1, until the file is deployed again.
    await writeFile(join(fixture.dir, "greeting.blueprint.yaml"), greeting("Bonjour", true));
    const afterEdit = await run();
    expect(afterEdit.text).toBe("Hello, Ada");
    expect(afterEdit.answer.version).toBe(1);

    const second = await conductor(["deploy", "greeting.blueprint.yaml", "--json"], fixture.dir);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ deployment: { version: 2 }, created: true });
    // Deploying the same again makes no new version.
    const again = await conductor(["deploy", "greeting.blueprint.yaml", "--json"], fixture.dir);
    expect(JSON.parse(again.stdout)).toMatchObject({ deployment: { version: 2 }, created: false });

    const latest = await run();
    expect([latest.text, latest.answer.version]).toEqual(["Bonjour, Ada", 2]);
    const pinned = await run(1);
    expect([pinned.text, pinned.answer.version]).toEqual(["Hello, Ada", 1]);

    // The execution records the version it ran.
    const detail = await api.getExecution({ executionId: pinned.answer.executionId });
    expect(detail.execution?.deployment).toMatchObject({
      blueprintId: "greeting",
      version: 1,
      digest: first.deployment.digest,
    });
    const unpinned = await api.getExecution({ executionId: latest.answer.executionId });
    expect(unpinned.execution?.deployment?.version).toBe(2);

    const missing = await failure(() => run(9));
    expect([missing.code, missing.message]).toEqual([
      NOT_FOUND,
      'namespace "default" has no version 9 of blueprint "greeting"; its versions are 1, 2',
    ]);
  });

  it("lists, diffs and rolls back versions with conductor deployments", async () => {
    const list = await conductor(["deployments", "list", "greeting", "--json"], fixture.dir);
    expect(list.code, list.stderr).toBe(0);
    const listed = JSON.parse(list.stdout) as {
      deployments: { version: number; current: boolean; message: string }[];
    };
    expect(listed.deployments.map((entry) => [entry.version, entry.current, entry.message])).toEqual([
      [1, false, "first"],
      [2, true, ""],
    ]);
    const tidy = await conductor(["deployments"], fixture.dir);
    expect(tidy.stdout).toMatch(/^greeting@1 +[0-9a-f]{12} /m);
    expect(tidy.stdout).toMatch(/^greeting@2 +● current +[0-9a-f]{12} /m);

    const diff = await conductor(["deployments", "diff", "greeting", "1", "2", "--json"], fixture.dir);
    expect(diff.code, diff.stderr).toBe(0);
    expect(JSON.parse(diff.stdout)).toMatchObject({
      from: 1,
      to: 2,
      nodes: { added: ["echo"], removed: [], changed: ["say"] },
      inputs: { added: [], removed: [], changed: [] },
      code: [],
    });
    const tidyDiff = await conductor(["deployments", "diff", "greeting", "1", "2"], fixture.dir);
    expect(tidyDiff.stdout).toContain("+ nodes.echo");
    expect(tidyDiff.stdout).toContain("~ nodes.say");

    const rollback = await conductor(["deployments", "rollback", "greeting", "1"], fixture.dir);
    expect(rollback.code, rollback.stderr).toBe(0);
    const rolled = await run();
    expect([rolled.text, rolled.answer.version]).toEqual(["Hello, Ada", 1]);

    const unknown = await conductor(["deployments", "rollback", "greeting", "7"], fixture.dir);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toContain(
      'namespace "default" has no version 7 of blueprint "greeting"; its versions are 1, 2',
    );
    const bad = await conductor(["deployments", "diff", "greeting", "one", "2"], fixture.dir);
    expect(bad.code).toBe(2);
  });

  it("keeps a running execution on the version it started with, through a deploy and a rollback", async () => {
    const first = await api.unary("deploy", { document: slowGreeting("before") });
    expect(first.deployment?.version).toBe(1);
    const started = await api.startExecution({ blueprint: { case: "blueprintId", value: "slow-greeting" } });
    expect(started.version).toBe(1);
    // A new version and a rollback to it while the first runs.
    const second = await api.unary("deploy", { document: slowGreeting("after") });
    expect(second.deployment?.version).toBe(2);
    await api.unary("rollback", { blueprintId: "slow-greeting", version: 2 });
    let outputs = "";
    for await (const message of api.watchExecution({ executionId: started.executionId })) {
      if (message.event?.kind.case === "executionFinished") outputs = message.event.kind.value.outputsJson;
    }
    expect(JSON.parse(outputs)).toEqual({ text: "before" });
    const next = await api.runExecution({ blueprint: { case: "blueprintId", value: "slow-greeting" } });
    expect(JSON.parse(next.outputsJson)).toEqual({ text: "after" });
  });

  it("pins a version from a webhook with ?version=", async () => {
    const hook = (query: string) =>
      httpRequest(`${fixture.server.url}/hooks/greeting${query}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...fixture.auth },
        body: '{"name":"Grace"}',
      });
    const latest = await hook("");
    expect(JSON.parse(latest.body).outputs).toEqual({ text: "Hello, Grace" });
    const pinned = await hook("?version=2");
    expect(JSON.parse(pinned.body).outputs).toEqual({ text: "Bonjour, Grace" });
    const missing = await hook("?version=5");
    expect(missing.status).toBe(404);
    const bad = await hook("?version=..%2F1");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error.message).toContain("?version= takes a deployed version number");
  });

  it("keeps each namespace's versions to itself, and lets a viewer list but not deploy or roll back", async () => {
    const editorA = protocolClient("connect", fixture.server.url, keys.editorA);
    const viewerA = protocolClient("connect", fixture.server.url, keys.viewerA);
    const viewer = protocolClient("connect", fixture.server.url, keys.viewer);
    try {
      // team-a cannot run the default namespace's blueprint until it deploys its own.
      const before = await failure(() =>
        editorA.runExecution({ blueprint: { case: "blueprintId", value: "greeting" } }),
      );
      expect([before.code, before.message]).toEqual([
        NOT_FOUND,
        'namespace "team-a" has no blueprint "greeting"',
      ]);
      const deployed = await editorA.unary("deploy", { document: greeting("Hej"), message: "team a" });
      expect(deployed.deployment).toMatchObject({
        namespace: "team-a",
        version: 1,
        deployedBy: expect.stringMatching(/^key:/),
      });
      const ran = await editorA.runExecution({ blueprint: { case: "blueprintId", value: "greeting" } });
      expect(JSON.parse(ran.outputsJson)).toEqual({ text: "Hej, Ada" });
      // The default namespace is unchanged, and lists only its own versions.
      expect((await run()).text).toBe("Hello, Ada");
      const own = await api.unary("listDeployments", { blueprintId: "greeting" });
      expect(own.deployments.map((entry) => entry.namespace)).toEqual(["default", "default"]);
      const theirs = await viewerA.unary("listDeployments", { withDocuments: true });
      expect(theirs.deployments.map((entry) => [entry.blueprintId, entry.version])).toEqual([
        ["greeting", 1],
      ]);
      expect(theirs.deployments[0]!.document).toContain("Hej");
      expect(theirs.deployments[0]!.code).toHaveProperty("builtin");

      for (const call of [
        () => viewer.unary("deploy", { document: greeting("Nope") }),
        () => viewer.unary("rollback", { blueprintId: "greeting", version: 2 }),
        () => viewerA.unary("deploy", { document: greeting("Nope") }),
      ]) {
        const refused = await failure(call);
        expect(refused.code).toBe(PERMISSION_DENIED);
        expect(refused.message).toMatch(
          /\(role viewer\) may not call (Deploy|Rollback): it needs the "deploy" permission, which the roles editor and admin have/,
        );
      }
      // A sub-blueprint of the default namespace cannot be deployed elsewhere.
      const nested = await failure(() =>
        editorA.unary("deploy", {
          document:
            '{"conductor":"blueprint/v1","id":"outer","outputs":{"text":"inner.text"},"nodes":{"inner":{"type":"blueprint.greeting"}}}',
        }),
      );
      expect(nested.code).toBe(PERMISSION_DENIED);
      expect(nested.message).toContain(
        "nodes.inner uses blueprint.greeting, a blueprint of the default namespace",
      );
      // An invalid blueprint is refused, naming the problem, and nothing is published.
      const invalid = await failure(() =>
        editorA.unary("deploy", {
          document: '{"conductor":"blueprint/v1","id":"bad","nodes":{"x":{"type":"core.nope"}}}',
        }),
      );
      expect(invalid.message).toContain("core.nope");
      expect((await viewerA.unary("listDeployments", {})).deployments).toHaveLength(1);
    } finally {
      editorA.close();
      viewerA.close();
      viewer.close();
    }
  });

  it("records every deploy and rollback in the audit trail, refused ones too", async () => {
    const store = await openTenancyStore(fixture.dir);
    try {
      // The server writes its audit entries in batches, within a few milliseconds of the answers.
      const apiEntries = () =>
        store
          .listAudit({ limit: 1000 })
          .filter((entry) => entry.action === "Deploy" || entry.action === "Rollback");
      await expect.poll(() => apiEntries().length).toBe(9);
      const trail = store.listAudit({ limit: 1000 });
      const of = (action: string) => trail.filter((entry) => entry.action === action);
      expect(of("deploy").map((entry) => [entry.target, entry.outcome, entry.address])).toEqual([
        ["blueprint:greeting@1", "ok", "local"],
        ["blueprint:greeting@2", "ok", "local"],
        ["blueprint:greeting@2", "ok", "local"],
      ]);
      expect(of("rollback").map((entry) => [entry.target, entry.outcome])).toEqual([
        ["blueprint:greeting@1", "ok"],
        ["blueprint:greeting@7", "not_found"],
      ]);
      expect(of("Deploy").map((entry) => [entry.namespace, entry.target, entry.outcome])).toEqual([
        ["default", "blueprint:slow-greeting@1", "ok"],
        ["default", "blueprint:slow-greeting@2", "ok"],
        ["team-a", "blueprint:greeting@1", "ok"],
        ["default", "", "permission_denied"],
        ["team-a", "", "permission_denied"],
        ["team-a", "", "permission_denied"],
        ["team-a", "", "invalid_argument"],
      ]);
      expect(of("Rollback").map((entry) => [entry.target, entry.outcome])).toEqual([
        ["blueprint:slow-greeting@2", "ok"],
        ["", "permission_denied"],
      ]);
      expect(store.verifyAudit().ok).toBe(true);
    } finally {
      store.close();
    }
  });

  it("refuses to deploy what cannot run, naming the problem, and publishes nothing", async () => {
    await writeFile(
      join(fixture.dir, "bad.json"),
      '{"conductor":"blueprint/v1","id":"bad","nodes":{"x":{"type":"core.nope"}}}',
    );
    const invalid = await conductor(["deploy", "bad.json"], fixture.dir);
    expect(invalid.code).toBe(3);
    expect(invalid.stderr).toContain("core.nope");
    const namespace = await conductor(["deploy", "bad.json", "--namespace", "../x"], fixture.dir);
    expect(namespace.code).toBe(2);
    expect(namespace.stderr).toContain("--namespace: a namespace is 1 to 63 lowercase letters");
    const missing = await conductor(["deploy", "missing.yaml"], fixture.dir);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("cannot read missing.yaml");
    const list = await conductor(["deployments", "list", "bad", "--json"], fixture.dir);
    expect(JSON.parse(list.stdout).deployments).toEqual([]);
  });
});
