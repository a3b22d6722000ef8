/**
 * Secrets: a node's config names `{ $secret: api-token }`; the node gets the clear value (a local HTTP server sees
 * it in a header), and nothing else ever holds it in clear: not the project's files (journal, tenancy database,
 * blobs), not any answer of the API about the execution, not its events or logs.
 */
import { readdir, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  type ApiServer,
  type Conductor,
  createApiServer,
  createConductor,
  openTenancyStore,
  SecretKeyRing,
} from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeProject } from "./api-fixture.js";
import { httpRequest } from "./http-request.js";
import { CallError, type ProtocolClient, protocolClient } from "./protocol-clients.js";

const CLEAR = "sk-live-7f3a9c21e5d84b6f-clear-value";

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

describe("secrets", () => {
  let fixture: {
    dir: string;
    conductor: Conductor;
    server: ApiServer;
    token: string;
    auth: { authorization: string };
  };
  let api: ProtocolClient;
  let upstream: http.Server;
  const received: string[] = [];

  beforeAll(async () => {
    upstream = http.createServer((request, response) => {
      received.push(String(request.headers.authorization ?? ""));
      response.writeHead(200, { "content-type": "application/json" });
      response.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    const port = (upstream.address() as AddressInfo).port;
    const dir = await writeProject({
      "call-api.blueprint.yaml": `conductor: blueprint/v1
id: call-api
outputs:
  status: call.status
  echoed: echo.text
nodes:
  call:
    type: core.http-request
    config:
      url: http://127.0.0.1:${port}/hook
      headers: { Authorization: { $secret: api-token } }
  echo:
    type: core.template
    config: { template: { $secret: api-token } }
    inputs: { data: { value: {} } }
`,
    });
    // With a journal, so its file can be searched for the value.
    const conductor = await createConductor({
      projectDir: dir,
      journal: { path: join(dir, ".conductor", "journal.db") },
    });
    const server = await createApiServer(conductor, { host: "127.0.0.1", port: 0, debuggerDir: false });
    fixture = {
      dir,
      conductor,
      server,
      token: server.token,
      auth: { authorization: `Bearer ${server.token}` },
    };
    const store = await openTenancyStore(fixture.dir);
    try {
      const ring = SecretKeyRing.load(fixture.dir, { create: true, env: {} })!;
      store.putSecret("default", "api-token", ring.seal("default", "api-token", CLEAR));
    } finally {
      store.close();
    }
    api = protocolClient("connect", fixture.server.url, fixture.token);
  });
  afterAll(async () => {
    api?.close();
    await fixture?.server.close();
    await fixture?.conductor.close();
    if (fixture !== undefined) await rm(fixture.dir, { recursive: true, force: true });
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it("reaches the node that uses it, and nothing else holds its clear value", async () => {
    const run = await api.runExecution({
      blueprint: { case: "blueprintId", value: "call-api" },
      inputsJson: "{}",
    });
    expect(JSON.parse(run.outputsJson)).toEqual({ status: 200, echoed: "[secret api-token]" });
    // The node got the value.
    expect(received).toEqual([CLEAR]);

    const answers: unknown[] = [run];
    answers.push(await api.getExecution({ executionId: run.executionId }));
    answers.push(await api.listExecutions({}));
    const events = [];
    for await (const event of api.watchExecution({ executionId: run.executionId })) events.push(event);
    expect(events.length).toBeGreaterThan(0);
    answers.push(events);
    answers.push(await api.getBlueprint({ blueprintId: "call-api" }));
    for (const ref of [
      `executions/${run.executionId}/outputs/echoed`,
      `executions/${run.executionId}/nodes/echo/outputs/text`,
    ]) {
      const chunks = [];
      for await (const message of api.readValue({ ref }))
        chunks.push(Buffer.from(message.chunk).toString("utf8"));
      expect(chunks.join("")).toBe('"[secret api-token]"');
    }
    const hook = await httpRequest(`${fixture.server.url}/hooks/call-api`, {
      method: "POST",
      headers: { ...fixture.auth, "content-type": "application/json" },
      body: "{}",
    });
    expect(hook.status).toBe(200);
    answers.push(hook.body);
    const text = JSON.stringify(answers, (_key, value) =>
      typeof value === "bigint" ? String(value) : value,
    );
    expect(text).toContain("api-token");
    expect(text).not.toContain(CLEAR);

    // Every file the project keeps: the journal (and its write-ahead log), the tenancy database, blobs.
    const files = (await filesUnder(join(fixture.dir, ".conductor"))).filter(
      (path) => !path.endsWith("secret-keys"),
    );
    expect(files.some((path) => path.endsWith("journal.db"))).toBe(true);
    expect(files.some((path) => path.endsWith("tenancy.db"))).toBe(true);
    for (const path of files) {
      expect((await readFile(path)).includes(CLEAR), path).toBe(false);
    }
  });

  it("is the namespace's own: another namespace's execution cannot use it", async () => {
    const store = await openTenancyStore(fixture.dir);
    const key = store.createKey({ name: "other", namespace: "team-b", role: "editor" }).key;
    store.close();
    const other = protocolClient("connect", fixture.server.url, key);
    try {
      const document = JSON.stringify({
        conductor: "blueprint/v1",
        id: "steal",
        outputs: { text: "echo.text" },
        nodes: {
          echo: {
            type: "core.template",
            config: { template: { $secret: "api-token" } },
            inputs: { data: { value: {} } },
          },
        },
      });
      const run = await other.runExecution({
        blueprint: { case: "document", value: document },
        inputsJson: "{}",
      });
      expect(run.failure?.message).toContain('secret "api-token" is not set in namespace "team-b"');
      expect(JSON.stringify(run)).not.toContain(CLEAR);
    } catch (error) {
      expect(error).not.toBeInstanceOf(CallError);
      throw error;
    } finally {
      other.close();
    }
  });
});
