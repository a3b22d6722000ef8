/**
 * Bad blueprints through the API, as an attacker or a broken client sends them: each is answered with
 * INVALID_ARGUMENT (or `valid: false`) and a message naming the limit or the place, never with an internal error,
 * and the server goes on answering. A large blueprint is parsed off the event loop, so a small request sent at the
 * same time is answered first.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApiServer, type Conductor, createApiServer, createConductor } from "@conductor/host";
import { type ConductorClient, createClient } from "@conductor/sdk/client";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const TOKEN = "fault-token";

function aliasBomb(): string {
  let text = "conductor: blueprint/v1\nnodes: {}\nui:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i < 10; i++)
    text += `  l${i}: &l${i} [${Array(10)
      .fill(`*l${i - 1}`)
      .join(", ")}]\n`;
  return text;
}

function cycle(count: number): string {
  let text = "conductor: blueprint/v1\nnodes:\n";
  for (let i = 0; i < count; i++) {
    text += `  n${i}: { type: core.passthrough, inputs: { value: n${(i + 1) % count}.value } }\n`;
  }
  return text;
}

function chain(count: number): string {
  let text = "conductor: blueprint/v1\nnodes:\n";
  for (let i = 0; i < count; i++) {
    const source = i === 0 ? "{ value: 1 }" : `n${i - 1}.value`;
    text += `  n${i}: { type: core.passthrough, inputs: { value: ${source} } }\n`;
  }
  return text;
}

/** Documents that once crashed or blocked the server, with what the answer must say. */
const CASES: { name: string; document: () => string; message: RegExp }[] = [
  {
    name: "an alias without an anchor",
    document: () => "conductor: blueprint/v1\nnodes:\n  a: *nope\n",
    message: /alias "\*nope" \(line 3, column 6\) names no anchor "&nope" defined before it/,
  },
  {
    name: "an alias bomb",
    document: aliasBomb,
    message: /expands aliases \(\*name\) more than the limit of 100/,
  },
  {
    name: "a cycle of 10,000 nodes",
    document: () => cycle(10_000),
    message: /the graph has a cycle: n0 → n9999 → .* \(10000 nodes in all\)/,
  },
  {
    name: "5 MB of nesting",
    document: () =>
      `conductor: blueprint/v1\nnodes: {}\nui: ${"[".repeat(2_500_000)}${"]".repeat(2_500_000)}\n`,
    message: /the blueprint is 5000039 bytes, more than the limit of 4194304 bytes/,
  },
  {
    name: "deep nesting within the size limit",
    document: () => `conductor: blueprint/v1\nnodes: {}\nui: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`,
    message: /the blueprint nests deeper than 64 levels .* \(line 3, column 68\)/,
  },
  {
    name: "more nodes than the limit",
    document: () => chain(10_001),
    message: /10001 nodes, more than the limit of 10000/,
  },
];

describe("the API under bad blueprints", () => {
  let dir: string;
  let conductor: Conductor;
  let server: ApiServer;
  let client: ConductorClient;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-fault-api-"));
    conductor = await createConductor({ projectDir: dir });
    server = await createApiServer(conductor, { port: 0, token: TOKEN, debuggerDir: false });
    client = createClient({ baseUrl: server.url, token: TOKEN });
  });

  afterAll(async () => {
    await server?.close();
    await conductor?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const { name, document, message } of CASES) {
    it(`answers ${name} with a clear error, and goes on serving`, async () => {
      const text = document();
      const validation = await client.validateBlueprint({ blueprint: { case: "document", value: text } });
      expect(validation.valid).toBe(false);
      expect(validation.diagnostics.map((d) => d.message).join("\n")).toMatch(message);

      const started = await client.startExecution({ blueprint: { case: "document", value: text } }).then(
        () => undefined,
        (error: unknown) => ConnectError.from(error),
      );
      expect(started?.code).toBe(Code.InvalidArgument);
      expect(started?.rawMessage).toMatch(message);

      expect((await client.listExecutions({})).executions).toEqual([]);
    });
  }

  it("answers a small request while a large blueprint is being parsed", async () => {
    const large = chain(8_000);
    expect(large.length).toBeGreaterThan(512 * 1024);
    const order: string[] = [];
    // The server runs in this process: its parsing thread starting says the large request is being worked on.
    const parsing = new Promise((resolve) => process.once("worker", resolve));
    const validating = client
      .validateBlueprint({ blueprint: { case: "document", value: large } })
      .then((answer) => order.push(`validated ${answer.valid}`));
    await Promise.race([parsing, validating]);
    const listing = client.listBlueprints({}).then(() => order.push("listed"));
    await Promise.all([validating, listing]);
    expect(order).toEqual(["listed", "validated true"]);
  });
});
