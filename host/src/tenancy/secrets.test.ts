import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { InvocationRequest, InvocationSink } from "@conductor/sdk/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";
import {
  hasSecretReference,
  replaceSecretReferences,
  SECRET_KEY_FILE,
  SecretKeyRing,
  withSecrets,
} from "./secrets.js";

describe("SecretKeyRing", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-secrets-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("makes a private key file on first use, and seals with AES-256-GCM bound to the namespace and name", async () => {
    expect(SecretKeyRing.load(dir, { create: false, env: {} })).toBeUndefined();
    const ring = SecretKeyRing.load(dir, { create: true, env: {} })!;
    expect((await stat(join(dir, SECRET_KEY_FILE))).mode & 0o777).toBe(0o600);
    const sealed = ring.seal("default", "token", "hunter2");
    expect(sealed.data.toString("utf8")).not.toContain("hunter2");
    expect(ring.open("default", "token", sealed)).toBe("hunter2");
    // Moved to another name or namespace, or altered, it does not open.
    expect(() => ring.open("team-a", "token", sealed)).toThrow('does not decrypt with key "k1"');
    expect(() => ring.open("default", "other", sealed)).toThrow("it was altered");
    const altered = { ...sealed, data: Buffer.from(sealed.data) };
    altered.data[0]! ^= 1;
    expect(() => ring.open("default", "token", altered)).toThrow("it was altered");
  });

  it("rotates: a new key seals, older secrets still open with the key they name", async () => {
    const first = SecretKeyRing.load(dir, { create: true, env: {} })!;
    const old = first.seal("default", "token", "v1");
    expect(SecretKeyRing.addKey(dir)).toBe("k2");
    const ring = SecretKeyRing.load(dir, { create: false, env: {} })!;
    expect(ring.current.id).toBe("k2");
    expect(ring.open("default", "token", old)).toBe("v1");
    expect(ring.seal("default", "token", "v2").keyId).toBe("k2");
    expect((await readFile(join(dir, SECRET_KEY_FILE), "utf8")).split("\n")[0]).toMatch(/^k2:/);
  });

  it("takes its keys from CONDUCTOR_SECRET_KEY when set, and refuses a malformed one", () => {
    const key = Buffer.alloc(32, 7).toString("base64");
    const ring = SecretKeyRing.load(dir, { create: true, env: { CONDUCTOR_SECRET_KEY: `prod2:${key}` } })!;
    expect(ring.current.id).toBe("prod2");
    expect(() =>
      SecretKeyRing.load(dir, { create: true, env: { CONDUCTOR_SECRET_KEY: "prod:short" } }),
    ).toThrow('CONDUCTOR_SECRET_KEY: each key is "<id>:<base64 of 32 random bytes>"');
  });
});

describe("secret references", () => {
  it("are { $secret: name } anywhere in a config", () => {
    const config = { url: "x", headers: { Authorization: { $secret: "api" } }, list: [{ $secret: "b" }] };
    expect(hasSecretReference(config)).toBe(true);
    expect(hasSecretReference({ secret: "api", other: { $secret: "a", more: 1 } })).toBe(false);
    expect(replaceSecretReferences(config, (name) => `<${name}>`)).toEqual({
      url: "x",
      headers: { Authorization: "<api>" },
      list: ["<b>"],
    });
  });

  it("are resolved only in what is sent to the runtime, and the value is redacted from what comes back", () => {
    let sent: InvocationRequest | undefined;
    const runtime = {
      name: "fake",
      execute(request: InvocationRequest, sink: InvocationSink) {
        sent = request;
        const config = request.steps[0]!.config as { token: string };
        sink.log(0, "info", `using ${config.token}`, { token: config.token });
        sink.failed(0, { message: `rejected ${config.token}`, type: "x", retryable: false }, 1);
        return { cancel() {} };
      },
    } as unknown as RuntimeConnection;
    const seen: unknown[] = [];
    const sink = {
      log: (...args: unknown[]) => seen.push(["log", ...args]),
      failed: (...args: unknown[]) => seen.push(["failed", ...args]),
    } as unknown as InvocationSink;
    const request: InvocationRequest = {
      invocationId: 1,
      executionId: "e1",
      steps: [
        {
          nodeId: "n",
          nodeType: "t",
          attempt: 1,
          config: { token: { $secret: "api" } },
          inputs: {},
          timeoutMs: 0,
        },
      ],
    };
    withSecrets(runtime, (name, executionId) => `clear-${name}-${executionId}`).execute(request, sink);
    expect((sent!.steps[0]!.config as { token: string }).token).toBe("clear-api-e1");
    // The request the scheduler holds keeps the reference.
    expect(request.steps[0]!.config).toEqual({ token: { $secret: "api" } });
    expect(JSON.stringify(seen)).not.toContain("clear-api-e1");
    expect(seen[0]).toEqual(["log", 0, "info", "using [secret api]", { token: "[secret api]" }]);
  });

  it("fail the invocation, naming the secret, when it cannot be resolved", () => {
    const rejected: unknown[] = [];
    const runtime = { execute: () => ({ cancel() {} }) } as unknown as RuntimeConnection;
    withSecrets(runtime, (name) => {
      throw new Error(`secret "${name}" is not set`);
    }).execute(
      {
        invocationId: 1,
        executionId: "e1",
        steps: [
          { nodeId: "n", nodeType: "t", attempt: 1, config: { $secret: "gone" }, inputs: {}, timeoutMs: 0 },
        ],
      },
      { rejected: (failure: unknown) => rejected.push(failure) } as unknown as InvocationSink,
    );
    expect(rejected).toEqual([
      { type: "secret.unavailable", message: 'secret "gone" is not set', retryable: false },
    ]);
  });
});
