/**
 * The RPCs that manage a namespace's API keys, secrets and audit trail: each acts in the caller's namespace only, a
 * key made through the API works and is revoked at once, a secret set through the API is used by a node but never
 * comes back in any answer, and every change is in the trail.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { openTenancyStore } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { CallError, type ProtocolClient, protocolClient } from "./protocol-clients.js";

const UNAUTHENTICATED = 16;
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const CLEAR = "rpc-secret-4f1c9a-clear-value";

async function failure(call: () => Promise<unknown>): Promise<CallError> {
  const error = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CallError);
  return error as CallError;
}

/** An answer as JSON text (64-bit fields as strings), to search for what it must not hold. */
function text(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? item.toString() : item));
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe("the key, secret and audit RPCs", () => {
  let fixture: ApiFixture;
  let api: ProtocolClient;
  let adminA: ProtocolClient;
  let adminKeyA: string;

  beforeAll(async () => {
    fixture = await startApiFixture();
    const store = await openTenancyStore(fixture.dir);
    try {
      adminKeyA = store.createKey({ name: "admin a", namespace: "team-a", role: "admin" }).key;
    } finally {
      store.close();
    }
    api = protocolClient("connect", fixture.server.url, fixture.token);
    adminA = protocolClient("connect", fixture.server.url, adminKeyA);
  });
  afterAll(async () => {
    api?.close();
    adminA?.close();
    await fixture?.close();
  });

  it("makes a key in the caller's namespace that works at once, lists it without its secret, and revokes it", async () => {
    const created = await adminA.unary("createKey", { name: "ci", role: "operator", expiresInSeconds: 3600 });
    expect(created.key).toMatch(/^cdk_[0-9a-f]{16}_/);
    expect(created.info).toMatchObject({ name: "ci", namespace: "team-a", role: "operator" });
    expect(created.info?.expiresAt).toBeDefined();

    const listed = await adminA.unary("listKeys", {});
    expect(listed.keys.map((key) => key.name).sort()).toEqual(["admin a", "ci"]);
    // The secret is base64url, so it may hold '_' itself: it is everything after `cdk_<id>_`.
    const secret = /^cdk_[0-9a-f]{16}_(.+)$/.exec(created.key)?.[1];
    expect(secret).toHaveLength(43);
    expect(text(listed)).not.toContain(secret);
    // The default namespace's admin does not see team-a's keys, nor can it revoke them.
    expect((await api.unary("listKeys", {})).keys).toEqual([]);
    const other = await failure(() => api.unary("revokeKey", { id: created.info!.id }));
    expect([other.code, other.message]).toEqual([
      NOT_FOUND,
      `no API key "${created.info!.id}" in this namespace`,
    ]);

    const operator = protocolClient("connect", fixture.server.url, created.key);
    try {
      expect((await operator.listExecutions({})).executions).toEqual([]);
      await adminA.unary("revokeKey", { id: created.info!.id });
      const revoked = await failure(() => operator.listExecutions({}));
      expect(revoked.code).toBe(UNAUTHENTICATED);
      expect(revoked.message).toContain("is revoked");
    } finally {
      operator.close();
    }
    const badRole = await failure(() => adminA.unary("createKey", { name: "x", role: "root" }));
    expect([badRole.code, badRole.message]).toEqual([
      INVALID_ARGUMENT,
      'role must be one of admin, editor, operator, viewer, worker; got "root"',
    ]);
  });

  it("sets a secret a node uses, and never answers its value", async () => {
    const set = await api.unary("setSecret", { name: "greeting", value: CLEAR });
    expect(set.secret).toMatchObject({ namespace: "default", name: "greeting" });
    expect(text(set)).not.toContain(CLEAR);
    const listed = await api.unary("listSecrets", {});
    expect(listed.secrets.map((secret) => secret.name)).toEqual(["greeting"]);
    expect(text(listed)).not.toContain(CLEAR);
    // Another namespace sees none of them.
    expect((await adminA.unary("listSecrets", {})).secrets).toEqual([]);

    const inline = JSON.stringify({
      conductor: "blueprint/v1",
      id: "uses-secret",
      outputs: { text: "measure.value" },
      nodes: {
        render: {
          type: "core.template",
          config: { template: { $secret: "greeting" } },
          inputs: { data: { value: {} } },
        },
        measure: { type: "core.passthrough", inputs: { value: "render.text" } },
      },
    });
    const run = await api.runExecution({ blueprint: { case: "document", value: inline }, inputsJson: "{}" });
    expect(run.status, run.failure?.message).toBe(2);
    // The node received the clear value and gave it back: it is replaced on its way out.
    expect(JSON.parse(run.outputsJson)).toEqual({ text: "[secret greeting]" });
    expect(text(run)).not.toContain(CLEAR);

    const empty = await failure(() => api.unary("setSecret", { name: "empty", value: "" }));
    expect(empty.code).toBe(INVALID_ARGUMENT);
    const badName = await failure(() => api.unary("setSecret", { name: "../x", value: "v" }));
    expect(badName.code).toBe(INVALID_ARGUMENT);
    const missing = await failure(() => adminA.unary("deleteSecret", { name: "greeting" }));
    expect([missing.code, missing.message]).toEqual([NOT_FOUND, 'no secret "greeting" in this namespace']);
    await api.unary("deleteSecret", { name: "greeting" });
    expect((await api.unary("listSecrets", {})).secrets).toEqual([]);

    // Nothing under .conductor holds the clear value.
    for (const file of await filesUnder(join(fixture.dir, ".conductor"))) {
      expect((await readFile(file)).includes(CLEAR), file).toBe(false);
    }
  });

  it("lists the caller's namespace's audit trail and verifies the chain", async () => {
    const mine = await adminA.unary("listAuditEvents", { limit: 50 });
    expect(mine.events.every((event) => event.namespace === "team-a")).toBe(true);
    expect(mine.events.map((event) => [event.action, event.outcome])).toEqual(
      expect.arrayContaining([
        ["CreateKey", "ok"],
        ["RevokeKey", "ok"],
        ["CreateKey", "invalid_argument"],
        ["DeleteSecret", "not_found"],
      ]),
    );
    const ours = await api.unary("listAuditEvents", {});
    expect(ours.events.map((event) => [event.action, event.target, event.outcome])).toEqual(
      expect.arrayContaining([
        ["SetSecret", "secret:greeting", "ok"],
        ["DeleteSecret", "secret:greeting", "ok"],
        ["RevokeKey", expect.stringMatching(/^key:/), "not_found"],
      ]),
    );
    expect(text(ours)).not.toContain(CLEAR);
    // Entries are in order, each linked to the one before.
    for (let i = 1; i < ours.events.length; i++) {
      expect(ours.events[i]!.seq > ours.events[i - 1]!.seq).toBe(true);
    }
    const verified = await api.unary("verifyAudit", {});
    expect(verified).toMatchObject({ ok: true, brokenReason: "" });
    expect(verified.head).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(verified.entries)).toBeGreaterThan(ours.events.length - 1);
  });
});
