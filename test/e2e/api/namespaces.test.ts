/**
 * Namespaces, keys and the audit trail through the API: a key of one namespace sees and acts on that namespace
 * only; bad credentials are refused with a clear error, recorded, and the server goes on; every change and refusal
 * is in the hash-chained audit trail with the caller's address.
 */
import { openTenancyStore, type TenancyStore } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { httpRequest } from "./http-request.js";
import { CallError, type ProtocolClient, protocolClient } from "./protocol-clients.js";

const NOT_FOUND = 5;
const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;

const INLINE = JSON.stringify({
  conductor: "blueprint/v1",
  id: "team-sum",
  inputs: { a: { schema: { type: "number" } } },
  outputs: { sum: "add.sum" },
  nodes: { add: { type: "core.add", inputs: { a: "inputs.a", b: { value: 100 } } } },
});

async function failure(call: () => Promise<unknown>): Promise<CallError> {
  try {
    await call();
  } catch (error) {
    if (error instanceof CallError) return error;
    throw error;
  }
  throw new Error("the call succeeded");
}

async function drain<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of stream) all.push(item);
  return all;
}

describe("namespaces, keys and the audit trail", () => {
  let fixture: ApiFixture;
  let store: TenancyStore;
  let owner: ProtocolClient;
  let teamA: ProtocolClient;
  let teamB: ProtocolClient;
  let keys: { teamA: string; teamB: string; teamAViewer: string };

  beforeAll(async () => {
    fixture = await startApiFixture();
    store = await openTenancyStore(fixture.dir);
    keys = {
      teamA: store.createKey({ name: "a", namespace: "team-a", role: "editor" }).key,
      teamB: store.createKey({ name: "b", namespace: "team-b", role: "admin" }).key,
      teamAViewer: store.createKey({ name: "a-viewer", namespace: "team-a", role: "viewer" }).key,
    };
    owner = protocolClient("connect", fixture.server.url, fixture.token);
    teamA = protocolClient("connect", fixture.server.url, keys.teamA);
    teamB = protocolClient("connect", fixture.server.url, keys.teamB);
  });
  afterAll(async () => {
    for (const client of [owner, teamA, teamB]) client?.close();
    store?.close();
    await fixture?.close();
  });

  it("keeps each namespace's executions and values to itself", async () => {
    const mine = await owner.runExecution({
      blueprint: { case: "blueprintId", value: "greet" },
      inputsJson: '{"name":"Ada"}',
    });
    const theirs = await teamA.runExecution({
      blueprint: { case: "document", value: INLINE },
      inputsJson: '{"a":1}',
    });
    expect(JSON.parse(theirs.outputsJson)).toEqual({ sum: 101 });

    // Each lists its own.
    const ownerList = (await owner.listExecutions({})).executions.map((e) => e.executionId);
    expect(ownerList).toContain(mine.executionId);
    expect(ownerList).not.toContain(theirs.executionId);
    expect((await teamA.listExecutions({})).executions.map((e) => e.executionId)).toEqual([
      theirs.executionId,
    ]);
    expect((await teamB.listExecutions({})).executions).toEqual([]);
    const viewer = protocolClient("connect", fixture.server.url, keys.teamAViewer);
    try {
      expect((await viewer.getExecution({ executionId: theirs.executionId })).execution?.executionId).toBe(
        theirs.executionId,
      );
    } finally {
      viewer.close();
    }

    // Another namespace's execution is answered as if it did not exist, whatever the call.
    for (const [client, id] of [
      [teamB, theirs.executionId],
      [owner, theirs.executionId],
      [teamA, mine.executionId],
    ] as const) {
      const get = await failure(() => client.getExecution({ executionId: id }));
      expect(get.code).toBe(NOT_FOUND);
      expect(get.message).toBe(`no execution "${id}" is recorded`);
      expect((await failure(() => drain(client.watchExecution({ executionId: id })))).code).toBe(NOT_FOUND);
      expect((await failure(() => client.cancelExecution({ executionId: id }))).code).toBe(NOT_FOUND);
      const read = await failure(() =>
        drain(client.readValue({ ref: `executions/${id}/inputs/${id === mine.executionId ? "name" : "a"}` })),
      );
      expect(read.code).toBe(NOT_FOUND);
      const preview = await failure(() =>
        client.previewValue({ ref: `executions/${id}/inputs/${id === mine.executionId ? "name" : "a"}` }),
      );
      expect([preview.code, preview.message]).toEqual([NOT_FOUND, read.message]);
    }
    // Its owner reads it.
    expect(
      Buffer.concat(
        (await drain(teamA.readValue({ ref: `executions/${theirs.executionId}/outputs/sum` })))
          .filter((m) => m.chunk.length > 0)
          .map((m) => m.chunk),
      ).toString(),
    ).toBe("101");
  });

  it("gives another namespace none of the project's blueprints, nor their webhooks, nor a way to nest them", async () => {
    expect((await teamA.listBlueprints({})).blueprints).toEqual([]);
    expect((await owner.listBlueprints({})).blueprints.length).toBeGreaterThan(0);
    const get = await failure(() => teamA.getBlueprint({ blueprintId: "greet" }));
    expect([get.code, get.message]).toEqual([NOT_FOUND, 'namespace "team-a" has no blueprint "greet"']);
    const run = await failure(() =>
      teamA.startExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' }),
    );
    expect([run.code, run.message]).toEqual([NOT_FOUND, 'namespace "team-a" has no blueprint "sum"']);
    const nested = JSON.stringify({
      conductor: "blueprint/v1",
      id: "nest",
      outputs: { sum: "inner.sum" },
      nodes: { inner: { type: "blueprint.sum", inputs: { a: { value: 1 } } } },
    });
    const nest = await failure(() =>
      teamA.runExecution({ blueprint: { case: "document", value: nested }, inputsJson: "{}" }),
    );
    expect(nest.code).toBe(PERMISSION_DENIED);
    expect(nest.message).toContain(
      'nodes.inner uses blueprint.sum, a blueprint of the default namespace, which namespace "team-a" cannot reach',
    );
    const hook = await httpRequest(`${fixture.server.url}/hooks/sum`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${keys.teamA}` },
      body: '{"a":1}',
    });
    expect(hook.status).toBe(404);
    expect(JSON.parse(hook.body).error.message).toBe('namespace "team-a" has no blueprint "sum"');
  });

  it("keeps uploads to the namespace that uploaded them", async () => {
    const upload = await teamA.uploadValue([{ type: "json", chunk: new TextEncoder().encode("41") }]);
    const ref = upload.handle!.ref;
    const run = await teamA.runExecution({
      blueprint: { case: "document", value: INLINE },
      inputsJson: JSON.stringify({ a: { $ref: ref } }),
    });
    expect(JSON.parse(run.outputsJson)).toEqual({ sum: 141 });
    expect((await failure(() => drain(teamB.readValue({ ref })))).code).toBe(NOT_FOUND);
    const reuse = await failure(() =>
      teamB.runExecution({
        blueprint: { case: "document", value: INLINE },
        inputsJson: JSON.stringify({ a: { $ref: ref } }),
      }),
    );
    expect(reuse.code).toBe(3);
    // The same words as for a value nobody uploaded: the caller cannot tell that another namespace has it.
    expect(reuse.message).toBe(
      `input "a" names "${ref}", which is not an uploaded value; upload it with UploadValue first and pass the ref it answers`,
    );
    const never = await failure(() =>
      teamB.runExecution({
        blueprint: { case: "document", value: INLINE },
        inputsJson: JSON.stringify({ a: { $ref: `uploads/${"0".repeat(64)}` } }),
      }),
    );
    expect(never.message).toBe(reuse.message.replace(ref, `uploads/${"0".repeat(64)}`));
  });

  it("refuses expired, revoked, forged and malformed credentials with a clear error, and goes on serving", async () => {
    const expired = store.createKey({
      name: "old",
      namespace: "team-a",
      role: "admin",
      expiresAt: Date.now() - 1,
    });
    const revoked = store.createKey({ name: "gone", namespace: "team-a", role: "admin" });
    store.revokeKey(revoked.id);
    const forged = `${keys.teamA.slice(0, 22)}${"x".repeat(43)}`;
    const cases: [string, string][] = [
      [expired.key, "is expired"],
      [revoked.key, "is revoked"],
      [forged, "unknown API key"],
      ["cdk_../../etc/passwd", "unknown API key"],
      ["x".repeat(4000), "wrong token"],
    ];
    for (const [bearer, message] of cases) {
      const client = protocolClient("connect", fixture.server.url, bearer);
      try {
        const refused = await failure(() => client.listExecutions({}));
        expect(refused.code, bearer.slice(0, 30)).toBe(UNAUTHENTICATED);
        expect(refused.message).toContain(message);
      } finally {
        client.close();
      }
    }
    expect((await owner.listBlueprints({})).blueprints.length).toBeGreaterThan(0);
  });

  it("records every change and every refusal, with who, namespace, address and outcome, in a chain that verifies", async () => {
    const nobody = protocolClient("connect", fixture.server.url);
    try {
      await failure(() => nobody.cancelExecution({ executionId: "x" }));
    } finally {
      nobody.close();
    }
    const viewer = protocolClient("connect", fixture.server.url, keys.teamAViewer);
    try {
      await failure(() =>
        viewer.startExecution({ blueprint: { case: "document", value: INLINE }, inputsJson: "{}" }),
      );
    } finally {
      viewer.close();
    }
    // Entries are written just after the answers.
    await expect.poll(() => store.listAudit({ limit: 1 })[0]?.action).toBe("StartExecution");
    const trail = store.listAudit({ limit: 1000 });
    const teamAKey = store.listKeys().find((key) => key.name === "a")!;
    const viewerKey = store.listKeys().find((key) => key.name === "a-viewer")!;
    expect(trail).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          actor: `key:${teamAKey.id}`,
          namespace: "team-a",
          action: "RunExecution",
          outcome: "ok",
          address: "127.0.0.1",
        }),
        expect.objectContaining({
          actor: "anonymous",
          action: "CancelExecution",
          outcome: "unauthenticated",
          address: "127.0.0.1",
        }),
        expect.objectContaining({
          actor: `key:${viewerKey.id}`,
          namespace: "team-a",
          action: "StartExecution",
          outcome: "permission_denied",
        }),
        expect.objectContaining({
          actor: "token",
          action: "RunExecution",
          namespace: "default",
          outcome: "ok",
        }),
        expect.objectContaining({ action: "webhook", namespace: "team-a", outcome: "not_found" }),
      ]),
    );
    // Reads are not recorded.
    expect(trail.some((entry) => entry.action === "ListExecutions" && entry.outcome === "ok")).toBe(false);
    expect(store.verifyAudit()).toMatchObject({ ok: true, entries: trail.length });
  });

  it("takes no caller address from the client", async () => {
    const answer = await httpRequest(
      `${fixture.server.url}/conductor.api.v1.ConductorService/CancelExecution`,
      {
        method: "POST",
        headers: { "content-type": "application/json", "x-conductor-peer": "10.9.9.9" },
        body: '{"executionId":"x"}',
      },
    );
    expect(answer.status).toBe(401);
    // Entries are written just after the answer.
    await expect
      .poll(() => {
        const last = store.listAudit({ limit: 1 })[0]!;
        return [last.action, last.outcome, last.address, last.detail.includes("requires a token")];
      })
      .toEqual(["CancelExecution", "unauthenticated", "127.0.0.1", true]);
  });
});

describe("namespace quotas", () => {
  let fixture: ApiFixture;
  let api: ProtocolClient;
  beforeAll(async () => {
    fixture = await startApiFixture({ quotas: { maxInFlight: 1, maxStartsPerMinute: 2 } });
    api = protocolClient("connect", fixture.server.url, fixture.token);
  });
  afterAll(async () => {
    api?.close();
    await fixture?.close();
  });

  it("refuses a start beyond the executions in flight, naming the quota, until one finishes", async () => {
    const first = await api.startExecution({
      blueprint: { case: "blueprintId", value: "long" },
      inputsJson: "{}",
    });
    const refused = await failure(() =>
      api.startExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' }),
    );
    expect(refused.code).toBe(8);
    expect(refused.message).toBe(
      'quota "executions in flight" of namespace "default" is reached: 1 of 1 are running; wait for one to finish or cancel one',
    );
    expect((await api.cancelExecution({ executionId: first.executionId })).cancelled).toBe(true);
    await expect
      .poll(async () => (await api.getExecution({ executionId: first.executionId })).execution?.status)
      .toBe(4);
    await expect
      .poll(() =>
        api
          .runExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' })
          .then((run) => run.outputsJson),
      )
      .toBe('{"sum":3}');
    // Two starts in a minute were allowed (refused ones do not count); the third is not.
    const fourth = await failure(() =>
      api.runExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' }),
    );
    expect(fourth.code).toBe(8);
    expect(fourth.message).toContain(
      'quota "starts per minute" of namespace "default" is reached: 2 executions',
    );
  });
});

describe("namespace quotas, for webhooks too", () => {
  let fixture: ApiFixture;
  let api: ProtocolClient;
  beforeAll(async () => {
    fixture = await startApiFixture({ quotas: { maxInFlight: 1 } });
    api = protocolClient("connect", fixture.server.url, fixture.token);
  });
  afterAll(async () => {
    api?.close();
    await fixture?.close();
  });

  const hook = (id: string, query = "") =>
    httpRequest(`${fixture.server.url}/hooks/${id}${query}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...fixture.auth },
      body: id === "sum" ? '{"a":1}' : "{}",
    });

  it("counts executions a webhook started against the quota the API counts, and refuses one beyond it with 429", async () => {
    const started = await hook("long", "?async=1");
    expect(started.status, started.body).toBe(202);
    const executionId = (JSON.parse(started.body) as { executionId: string }).executionId;
    // The API sees the webhook's execution in flight, and a webhook sees it too.
    const refused = await failure(() =>
      api.startExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' }),
    );
    expect(refused.code).toBe(8);
    const refusedHook = await hook("sum");
    expect(refusedHook.status).toBe(429);
    expect(JSON.parse(refusedHook.body).error).toEqual({
      code: "resource_exhausted",
      message:
        'quota "executions in flight" of namespace "default" is reached: 1 of 1 are running; wait for one to finish or cancel one',
    });
    expect((await api.cancelExecution({ executionId })).cancelled).toBe(true);
    // Once the cancelled execution has finished, its slot is free again.
    await expect.poll(async () => (await hook("sum")).status).toBe(200);
    const audit = await openTenancyStore(fixture.dir);
    try {
      // The server writes its audit entries in batches, within a few milliseconds of the answers.
      await expect
        .poll(() =>
          audit
            .listAudit({ limit: 100 })
            .filter((entry) => entry.action === "webhook")
            .map((entry) => entry.outcome),
        )
        .toContain("resource_exhausted");
    } finally {
      audit.close();
    }
  });
});
