/**
 * Who may call the server: every call that reads or runs anything carries the server's token, on loopback too, on
 * every protocol and on webhooks; a server given no token makes one. Blueprints sent inline need more than that to
 * run core.shell, and file nodes stay inside the project whoever starts them.
 */
import { createApiServer, createConductor } from "@conductor/host";
import { ExecutionStatus } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { httpRequest, postJson } from "./http-request.js";
import { CallError, type ProtocolName, protocolClient } from "./protocol-clients.js";

const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;
const PROTOCOLS: ProtocolName[] = ["connect", "grpc-web", "grpc"];

async function callError(promise: Promise<unknown>): Promise<CallError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CallError);
  return error as CallError;
}

describe("createApiServer() without a token", () => {
  it("makes a random one for each server, and requires it on loopback", async () => {
    const conductor = await createConductor({
      project: { dir: ".", blueprints: [], nodes: [], runtimes: {} },
    });
    const first = await createApiServer(conductor, { port: 0, debuggerDir: false });
    const second = await createApiServer(conductor, { port: 0, debuggerDir: false });
    try {
      expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(second.token).not.toBe(first.token);
      const anonymous = await callError(protocolClient("connect", first.url).listBlueprints({}));
      expect(anonymous.code).toBe(UNAUTHENTICATED);
      const client = protocolClient("connect", first.url, first.token);
      expect((await client.listBlueprints({})).blueprints).toEqual([]);
      const otherServers = await callError(
        protocolClient("connect", first.url, second.token).listBlueprints({}),
      );
      expect(otherServers.code).toBe(UNAUTHENTICATED);
    } finally {
      await first.close();
      await second.close();
      await conductor.close();
    }
  });
});

describe("createApiServer() with a token", () => {
  it("refuses one that cannot travel in an Authorization header, without echoing it", async () => {
    const conductor = await createConductor({
      project: { dir: ".", blueprints: [], nodes: [], runtimes: {} },
    });
    try {
      for (const token of ["two words", "tab\tbed", "naïve"]) {
        const error = await createApiServer(conductor, { port: 0, token }).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error?.message, token).toBe(
          `the token must be printable ASCII without spaces (it travels as "Authorization: Bearer <token>"), got one of ${token.length} characters that is not; give another with --token or CONDUCTOR_TOKEN`,
        );
      }
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
    expect(fixture.server.token).toBe("s3cret");
  });

  for (const protocol of PROTOCOLS) {
    it(`answers UNAUTHENTICATED over ${protocol} without the token or with a wrong one, and serves it with the right one`, async () => {
      const anonymous = protocolClient(protocol, fixture.server.url);
      const wrong = protocolClient(protocol, fixture.server.url, "guess");
      const right = protocolClient(protocol, fixture.server.url, "s3cret");
      const before = fixture.conductor.executions.list({ blueprintId: "sum" }).length;
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
        // Only the call with the right token ran anything.
        expect(fixture.conductor.executions.list({ blueprintId: "sum" })).toHaveLength(before + 1);
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

  it("answers a Connect call without the token with HTTP 401, code unauthenticated and WWW-Authenticate", async () => {
    const response = await httpRequest(
      `${fixture.server.url}/conductor.api.v1.ConductorService/ListBlueprints`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      },
    );
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe('Bearer realm="conductor"');
    expect(JSON.parse(response.body)).toEqual({
      code: "unauthenticated",
      message: 'this server requires a token: send the header "Authorization: Bearer <token>"',
    });
  });
});

describe("a server on 127.0.0.1", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture({ tokenHint: "it is in the test's fixture" });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("requires the token too, saying where to find it", async () => {
    const error = await callError(protocolClient("connect", fixture.server.url).listBlueprints({}));
    expect(error.code).toBe(UNAUTHENTICATED);
    expect(error.message).toBe(
      `this server requires a token: send the header "Authorization: Bearer <token>" (it is in the test's fixture)`,
    );
    const client = protocolClient("connect", fixture.server.url, fixture.token);
    expect((await client.listBlueprints({})).blueprints.length).toBeGreaterThan(0);
  });

  it("serves a caller with the token whatever Host it names (a proxy in front)", async () => {
    const rpc = await httpRequest(`${fixture.server.url}/conductor.api.v1.ConductorService/ListBlueprints`, {
      method: "POST",
      headers: { "content-type": "application/json", host: "flows.example.com", ...fixture.auth },
      body: "{}",
    });
    expect(rpc.status).toBe(200);
  });
});

describe("blueprints sent inline", () => {
  const shellBlueprint = JSON.stringify({
    conductor: "blueprint/v1",
    id: "who",
    outputs: { out: "id.stdout" },
    nodes: { id: { type: "core.shell", config: { command: ["id", "-u"] } } },
  });
  const readBlueprint = (path: string) =>
    JSON.stringify({
      conductor: "blueprint/v1",
      id: "peek",
      outputs: { content: "read.content" },
      nodes: { read: { type: "core.file-read", inputs: { path: { value: path } } } },
    });

  it("may not run core.shell in a project that keeps it to its own blueprints (the default)", async () => {
    const fixture = await startApiFixture();
    try {
      const api = protocolClient("connect", fixture.server.url, fixture.token);
      const error = await callError(
        api.runExecution({ blueprint: { case: "document", value: shellBlueprint } }),
      );
      expect(error.code).toBe(PERMISSION_DENIED);
      expect(error.message).toBe(
        'blueprint "who" was sent inline and runs core.shell (nodes.id), which this project allows only its own blueprints (access.shell is "project" in conductor.yaml); add the blueprint to the project, or ask its owner to set access.shell to "any"',
      );
      expect(fixture.conductor.executions.list()).toEqual([]);
    } finally {
      await fixture.close();
    }
  });

  it('run core.shell where the project sets access.shell to "any"', async () => {
    const fixture = await startApiFixture(
      {},
      { "conductor.yaml": "conductor: project/v1\nblueprints: [.]\naccess: { shell: any }\n" },
    );
    try {
      const api = protocolClient("connect", fixture.server.url, fixture.token);
      const run = await api.runExecution({ blueprint: { case: "document", value: shellBlueprint } });
      expect(run.status).toBe(ExecutionStatus.COMPLETED);
      expect(JSON.parse(run.outputsJson).out).toMatch(/^\d+$/);
    } finally {
      await fixture.close();
    }
  });

  it("cannot read files outside the project (a node failure, not a file's content)", async () => {
    const fixture = await startApiFixture();
    try {
      const api = protocolClient("connect", fixture.server.url, fixture.token);
      const run = await api.runExecution({
        blueprint: { case: "document", value: readBlueprint("/etc/passwd") },
      });
      expect(run.status).toBe(ExecutionStatus.FAILED);
      expect(run.failure?.type).toBe("file.not-allowed");
      expect(run.failure?.message).toMatch(/^cannot read "\/etc\/passwd": it is outside the directories/);
      expect(run.outputsJson).not.toMatch(/root:/);
      const ownFiles = await api.runExecution({
        blueprint: { case: "document", value: readBlueprint(`${fixture.dir}/.conductor/api-token`) },
      });
      expect(ownFiles.failure?.type).toBe("file.not-allowed");
    } finally {
      await fixture.close();
    }
  });
});

describe("project blueprints behind a webhook", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture(
      {},
      {
        "read.blueprint.yaml":
          "conductor: blueprint/v1\nid: read\ninputs: { csv: { schema: { type: string } } }\noutputs: { content: read.content }\nnodes:\n  read: { type: core.file-read, inputs: { path: inputs.csv } }\n",
        "search.blueprint.yaml":
          "conductor: blueprint/v1\nid: search\ninputs: { args: { schema: { type: array, items: { type: string } } } }\noutputs: { found: find.stdout }\nnodes:\n  find: { type: core.shell, config: { command: [find] }, inputs: { args: inputs.args } }\n",
      },
    );
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("cannot be made to read a file outside the project through their inputs", async () => {
    const response = await postJson(`${fixture.server.url}/hooks/read`, { csv: "/etc/shadow" }, fixture.auth);
    expect(response.status).toBe(422);
    expect(response.json.failure).toMatchObject({
      nodeId: "read",
      type: "file.not-allowed",
      retryable: false,
    });
  });

  it("cannot be made to pass core.shell an option through their inputs (find -exec)", async () => {
    const response = await postJson(
      `${fixture.server.url}/hooks/search`,
      { args: [".", "-exec", "id", ";"] },
      fixture.auth,
    );
    expect(response.status).toBe(422);
    expect(response.json.failure).toMatchObject({
      nodeId: "find",
      type: "shell.option-argument",
      message:
        'input args[1] "-exec" starts with "-", so command "find" could take it as an option; set allowOptionArgs: true in the node\'s config if its inputs may pass options',
    });
    const plain = await postJson(`${fixture.server.url}/hooks/search`, { args: [fixture.dir] }, fixture.auth);
    expect(plain.status).toBe(200);
    expect((plain.json.outputs as { found: string }).found).toContain("sum.blueprint.yaml");
  });
});
