/**
 * Who may call the server: loopback binds need no token (but refuse Host headers naming other machines, the DNS
 * rebinding guard); other binds need a bearer token, on every protocol and on webhooks.
 */
import { createApiServer, createConductor } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { httpRequest, postJson } from "./http-request.js";
import { CallError, type ProtocolName, protocolClient } from "./protocol-clients.js";

const UNAUTHENTICATED = 16;
const PROTOCOLS: ProtocolName[] = ["connect", "grpc-web", "grpc"];

async function callError(promise: Promise<unknown>): Promise<CallError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CallError);
  return error as CallError;
}

describe("createApiServer() binding beyond loopback", () => {
  it("refuses to start without a token, saying how to give one", async () => {
    const conductor = await createConductor({
      project: { dir: ".", blueprints: [], nodes: [], runtimes: {} },
    });
    try {
      await expect(createApiServer(conductor, { host: "0.0.0.0", port: 0 })).rejects.toThrow(
        /refusing to serve on 0\.0\.0\.0 without a token: .*--token <secret> or the CONDUCTOR_TOKEN environment variable .*"Authorization: Bearer <secret>"/,
      );
    } finally {
      await conductor.close();
    }
  });
});

describe("a server on 0.0.0.0 with a token", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture({ host: "0.0.0.0", token: "s3cret" });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("is reached on 127.0.0.1", () => {
    expect(fixture.server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fixture.server.host).toBe("0.0.0.0");
  });

  for (const protocol of PROTOCOLS) {
    it(`answers UNAUTHENTICATED over ${protocol} without the token or with a wrong one, and serves it with the right one`, async () => {
      const anonymous = protocolClient(protocol, fixture.server.url);
      const wrong = protocolClient(protocol, fixture.server.url, "guess");
      const right = protocolClient(protocol, fixture.server.url, "s3cret");
      try {
        const missing = await callError(anonymous.listBlueprints({}));
        expect(missing.code).toBe(UNAUTHENTICATED);
        expect(missing.message).toBe(
          'this server requires a token: send the header "Authorization: Bearer <token>"',
        );
        const bad = await callError(
          wrong.runExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' }),
        );
        expect(bad.code).toBe(UNAUTHENTICATED);
        expect(bad.message).toBe('wrong token in the "Authorization: Bearer" header');
        const watch = await callError(
          (async () => {
            for await (const _ of anonymous.watchExecution({ executionId: "x" })) {
              // nothing arrives
            }
          })(),
        );
        expect(watch.code).toBe(UNAUTHENTICATED);
        const run = await right.runExecution({
          blueprint: { case: "blueprintId", value: "sum" },
          inputsJson: '{"a":1}',
        });
        expect(JSON.parse(run.outputsJson)).toEqual({ sum: 3 });
      } finally {
        anonymous.close();
        wrong.close();
        right.close();
      }
    });
  }

  it("answers 401 to a webhook without the token, naming the header", async () => {
    const missing = await postJson(`${fixture.server.url}/hooks/sum`, { a: 1 });
    expect(missing.status).toBe(401);
    expect(missing.headers["www-authenticate"]).toBe('Bearer realm="conductor"');
    expect(missing.json).toEqual({
      error: {
        code: "unauthenticated",
        message: 'this server requires a token: send the header "Authorization: Bearer <token>"',
      },
    });
    const wrong = await postJson(
      `${fixture.server.url}/hooks/sum`,
      { a: 1 },
      { authorization: "Bearer nope" },
    );
    expect(wrong.status).toBe(401);
    const right = await postJson(
      `${fixture.server.url}/hooks/sum`,
      { a: 1 },
      { authorization: "Bearer s3cret" },
    );
    expect(right.status).toBe(200);
    expect(right.json.outputs).toEqual({ sum: 3 });
  });

  it("answers a Connect call without the token with HTTP 401 and code unauthenticated", async () => {
    const response = await httpRequest(
      `${fixture.server.url}/conductor.api.v1.ConductorService/ListBlueprints`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      },
    );
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body)).toEqual({
      code: "unauthenticated",
      message: 'this server requires a token: send the header "Authorization: Bearer <token>"',
    });
  });
});

describe("a server on 127.0.0.1 without a token", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("serves calls without a token", async () => {
    const client = protocolClient("connect", fixture.server.url);
    expect((await client.listBlueprints({})).blueprints.length).toBeGreaterThan(0);
  });

  it("refuses requests whose Host header names another machine (DNS rebinding)", async () => {
    const rpc = await httpRequest(`${fixture.server.url}/conductor.api.v1.ConductorService/ListBlueprints`, {
      method: "POST",
      headers: { "content-type": "application/json", host: `attacker.example:${fixture.server.port}` },
      body: "{}",
    });
    expect(rpc.status).toBe(403);
    expect(JSON.parse(rpc.body).code).toBe("permission_denied");
    expect(JSON.parse(rpc.body).message).toMatch(
      /must name a loopback host .* got Host "attacker\.example:\d+"/,
    );
    const hook = await postJson(`${fixture.server.url}/hooks/sum`, { a: 1 }, { host: "attacker.example" });
    expect(hook.status).toBe(403);
    const local = await postJson(
      `${fixture.server.url}/hooks/sum`,
      { a: 1 },
      { host: `localhost:${fixture.server.port}` },
    );
    expect(local.status).toBe(200);
  });
});

describe("a server on 127.0.0.1 with a token", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture({ token: "t0ken" });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("requires the token too", async () => {
    const error = await callError(protocolClient("connect", fixture.server.url).listBlueprints({}));
    expect(error.code).toBe(UNAUTHENTICATED);
    const client = protocolClient("connect", fixture.server.url, "t0ken");
    expect((await client.listBlueprints({})).blueprints.length).toBeGreaterThan(0);
  });
});
