/**
 * The public API through every kind of client it promises to serve, all on one port: Connect (JSON over
 * HTTP/1.1, and over HTTP/2), gRPC-Web (HTTP/1.1) and gRPC (grpc-js over h2c). One list of tests runs against each.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  bearerToken,
  ConductorService,
  ExecutionStatus,
  NodeStatus,
  type WatchExecutionResponse,
} from "@conductor/sdk/client";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { CallError, type ProtocolClient, type ProtocolName, protocolClient } from "./protocol-clients.js";

const GRPC_NOT_FOUND = 5;
const GRPC_INVALID_ARGUMENT = 3;

/** Collects a watch stream's events as "seq:kind[:node]". */
async function collect(stream: AsyncIterable<WatchExecutionResponse>): Promise<string[]> {
  const seen: string[] = [];
  for await (const { event } of stream) {
    seen.push(`${event?.seq}:${event?.kind.case}${event?.nodeId ? `:${event.nodeId}` : ""}`);
  }
  return seen;
}

async function expectCallError(promise: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CallError);
  expect((error as CallError).code).toBe(code);
  expect((error as CallError).message).toMatch(message);
}

describe.each<ProtocolName>(["connect", "grpc-web", "grpc"])("the API over %s", (protocol) => {
  let fixture: ApiFixture;
  let api: ProtocolClient;

  beforeAll(async () => {
    fixture = await startApiFixture(
      {},
      {
        "bytes.blueprint.yaml": `conductor: blueprint/v1
id: bytes
inputs: { path: { schema: { type: string } } }
outputs: { content: read.content, size: read.size }
nodes:
  read: { type: core.file-read, config: { encoding: bytes }, inputs: { path: inputs.path } }
`,
      },
    );
    await writeFile(join(fixture.dir, "data.bin"), Buffer.from([0, 1, 2, 255]));
    api = protocolClient(protocol, fixture.server.url, fixture.token);
  });

  afterAll(async () => {
    api?.close();
    await fixture?.close();
  });

  it("lists the project's blueprints", async () => {
    const { blueprints } = await api.listBlueprints({});
    expect(blueprints.map((b) => b.id)).toEqual([
      "broken",
      "bytes",
      "chain10",
      "greet",
      "long",
      "slow",
      "sum",
    ]);
    const greet = blueprints.find((b) => b.id === "greet")!;
    expect(greet.title).toBe("Greet someone");
    expect(greet.description).toBe("Renders a greeting and passes it on.");
    expect(greet.path).toBe("greet.blueprint.yaml");
  });

  it("gets a blueprint with its document, inputs and the graph to draw", async () => {
    const { blueprint } = await api.getBlueprint({ blueprintId: "greet" });
    expect(blueprint!.id).toBe("greet");
    expect(JSON.parse(blueprint!.documentJson).nodes.render.config.template).toBe("Hello, {{.}}!");
    expect(blueprint!.inputs.map((i) => [i.name, JSON.parse(i.schemaJson), i.required])).toEqual([
      ["name", { type: "string" }, true],
    ]);
    expect(blueprint!.outputs.map((o) => [o.name, o.from])).toEqual([["text", "shout.value"]]);
    const graph = blueprint!.graph!;
    expect(graph.nodes.map((n) => [n.id, n.type, n.runtime])).toEqual([
      ["echo", "core.passthrough", "builtin"],
      ["render", "core.template", "builtin"],
      ["shout", "core.passthrough", "builtin"],
    ]);
    const render = graph.nodes.find((n) => n.id === "render")!;
    expect(render.inputs.map((p) => p.name)).toEqual(["data"]);
    expect(render.outputs.map((p) => [p.name, JSON.parse(p.schemaJson).type])).toEqual([["text", "string"]]);
    expect(graph.edges.map((e) => `${e.fromNode}.${e.fromPort}->${e.toNode}.${e.toPort}`)).toEqual([
      "inputs.name->echo.value",
      "echo.value->render.data",
      "render.text->shout.value",
      "shout.value->outputs.text",
    ]);
    expect(blueprint!.diagnostics).toEqual([]);
  });

  it("answers NOT_FOUND for a blueprint the project does not have", async () => {
    await expectCallError(
      api.getBlueprint({ blueprintId: "gret" }),
      GRPC_NOT_FOUND,
      /the project has no blueprint "gret"; its blueprints are .*"greet"/,
    );
  });

  it("lists node types with their JSON Schemas", async () => {
    const { nodeTypes } = await api.listNodeTypes({});
    const add = nodeTypes.find((n) => n.type === "core.add")!;
    expect(add.runtime).toBe("builtin");
    expect(add.language).toBe("typescript");
    expect(add.inputs.map((p) => [p.name, JSON.parse(p.schemaJson).type, p.required])).toEqual([
      ["a", "number", true],
      ["b", "number", true],
    ]);
    expect(add.flags?.deterministic).toBe(true);
    const delay = nodeTypes.find((n) => n.type === "core.delay")!;
    expect(JSON.parse(delay.configSchemaJson).properties.ms.type).toBe("number");
    expect((await api.listNodeTypes({ runtime: "nope" })).nodeTypes).toEqual([]);
  });

  it("validates a blueprint: a bad one gives diagnostics with path, message and suggestion", async () => {
    const bad = await api.validateBlueprint({
      blueprint: {
        case: "document",
        value: "conductor: blueprint/v1\nnodes:\n  a: { type: core.ad, inputs: { a: { value: 1 } } }\n",
      },
    });
    expect(bad.valid).toBe(false);
    expect(bad.diagnostics.map((d) => [d.path, d.message, d.suggestion])).toEqual([
      [
        "nodes.a.type",
        'unknown node type "core.ad"; no runtime of the project serves it',
        'did you mean "core.add"?',
      ],
    ]);
    const unparsable = await api.validateBlueprint({
      blueprint: { case: "document", value: "conductor: [" },
    });
    expect(unparsable.valid).toBe(false);
    expect(unparsable.diagnostics[0]!.message).toMatch(/line 1/);
    const good = await api.validateBlueprint({ blueprint: { case: "blueprintId", value: "greet" } });
    expect(good).toMatchObject({ valid: true, diagnostics: [] });
  });

  it("runs an execution and answers with its outputs when it has finished", async () => {
    const run = await api.runExecution({
      blueprint: { case: "blueprintId", value: "sum" },
      inputsJson: '{"a": 40}',
    });
    expect(run.status).toBe(ExecutionStatus.COMPLETED);
    expect(JSON.parse(run.outputsJson)).toEqual({ sum: 42 });
    expect(run.blueprintId).toBe("sum");
    expect(run.executionId).toMatch(/^[0-9a-f-]{36}$/);
    const chain = await api.runExecution({ blueprint: { case: "blueprintId", value: "chain10" } });
    expect(JSON.parse(chain.outputsJson)).toEqual({ x: 10 });
  });

  it("runs a blueprint given inline as a document", async () => {
    const document = JSON.stringify({
      conductor: "blueprint/v1",
      id: "inline",
      outputs: { sum: "add.sum" },
      nodes: { add: { type: "core.add", inputs: { a: { value: 1 }, b: { value: 2 } } } },
    });
    const run = await api.runExecution({ blueprint: { case: "document", value: document } });
    expect(run.blueprintId).toBe("inline");
    expect(JSON.parse(run.outputsJson)).toEqual({ sum: 3 });
  });

  it("keeps integers beyond 2^53 exact from inputsJson and a literal to outputsJson", async () => {
    const document = `conductor: blueprint/v1
id: big
inputs: { n: { schema: { type: integer } } }
outputs: { given: given.value, literal: literal.value }
nodes:
  given: { type: core.passthrough, inputs: { value: inputs.n } }
  literal: { type: core.passthrough, inputs: { value: { value: [9007199254740993, -9007199254740995] } } }
`;
    const run = await api.runExecution({
      blueprint: { case: "document", value: document },
      inputsJson: '{"n": 18446744073709551617}',
    });
    expect(run.status).toBe(ExecutionStatus.COMPLETED);
    expect(run.outputsJson).toBe(
      '{"given":18446744073709551617,"literal":[9007199254740993,-9007199254740995]}',
    );
    const { execution } = await api.getExecution({ executionId: run.executionId });
    expect(execution!.inputsJson).toBe('{"n":18446744073709551617}');
  });

  it("writes bytes as {$bytes: base64}", async () => {
    const run = await api.runExecution({
      blueprint: { case: "blueprintId", value: "bytes" },
      inputsJson: JSON.stringify({ path: join(fixture.dir, "data.bin") }),
    });
    expect(JSON.parse(run.outputsJson)).toEqual({ content: { $bytes: "AAEC/w==" }, size: 4 });
  });

  it("rejects inputs that do not validate with INVALID_ARGUMENT naming the input", async () => {
    await expectCallError(
      api.runExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a": "forty"}' }),
      GRPC_INVALID_ARGUMENT,
      /inputs of blueprint "sum" are invalid:\n\s+inputs\.a: value must be number; found "forty"/,
    );
    await expectCallError(
      api.startExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: "[1]" }),
      GRPC_INVALID_ARGUMENT,
      /inputs_json must be a JSON object of input names to values, got an array/,
    );
    await expectCallError(api.startExecution({}), GRPC_INVALID_ARGUMENT, /no blueprint given/);
  });

  it("reports a failed execution with its failure", async () => {
    const run = await api.runExecution({ blueprint: { case: "blueprintId", value: "broken" } });
    expect(run.status).toBe(ExecutionStatus.FAILED);
    expect(run.failure?.nodeId).toBe("read");
    expect(run.failure?.message).toMatch(/missing\.txt/);
    expect(run.failure?.retryable).toBe(false);
  });

  it("streams an execution's events live, and replays them to a watcher that comes late", async () => {
    const { executionId } = await api.startExecution({
      blueprint: { case: "blueprintId", value: "slow" },
      inputsJson: '{"value": "v"}',
    });
    let statusWhenWaitStarted: string | undefined;
    const live: string[] = [];
    for await (const { event } of api.watchExecution({ executionId })) {
      live.push(`${event?.seq}:${event?.kind.case}${event?.nodeId ? `:${event.nodeId}` : ""}`);
      if (event?.kind.case === "nodeStarted" && event.nodeId === "wait") {
        statusWhenWaitStarted = fixture.conductor.executions.get(executionId)?.status;
      }
      if (event?.kind.case === "executionFinished") {
        expect(event.kind.value.status).toBe(ExecutionStatus.COMPLETED);
        expect(JSON.parse(event.kind.value.outputsJson)).toEqual({ value: "v" });
      }
      if (event?.kind.case === "nodeCompleted" && event.nodeId === "wait") {
        expect(JSON.parse(event.kind.value.outputsJson)).toEqual({ value: "v" });
      }
    }
    expect(live).toEqual([
      "1:executionStarted",
      "2:nodeQueued:first",
      "3:nodeStarted:first",
      "4:nodeCompleted:first",
      "5:nodeQueued:wait",
      "6:nodeStarted:wait",
      "7:nodeCompleted:wait",
      "8:executionFinished",
    ]);
    // The stream stayed open while the 400 ms delay ran: these were live events, not a replay.
    expect(statusWhenWaitStarted).toBe("running");

    expect(await collect(api.watchExecution({ executionId }))).toEqual(live);
    expect(await collect(api.watchExecution({ executionId, afterSeq: 5 }))).toEqual(live.slice(5));
    expect(await collect(api.watchExecution({ executionId, afterSeq: 8 }))).toEqual([]);
  });

  it("gives a watcher that arrives mid-run what happened so far, then the live events", async () => {
    const { executionId } = await api.startExecution({ blueprint: { case: "blueprintId", value: "slow" } });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const arrivals: { event: string; status: string | undefined }[] = [];
    for await (const { event } of api.watchExecution({ executionId })) {
      const status = fixture.conductor.executions.get(executionId)?.status;
      arrivals.push({ event: `${event?.seq}:${event?.kind.case}`, status });
    }
    expect(arrivals.map((a) => a.event)).toEqual([
      "1:executionStarted",
      "2:nodeQueued",
      "3:nodeStarted",
      "4:nodeCompleted",
      "5:nodeQueued",
      "6:nodeStarted",
      "7:nodeCompleted",
      "8:executionFinished",
    ]);
    // The replayed part came while the delay still ran; the end came when it had finished.
    expect(arrivals[5]!.status).toBe("running");
    expect(arrivals[7]!.status).toBe("completed");
  });

  it("answers NOT_FOUND when watching an unknown execution", async () => {
    await expectCallError(collect(api.watchExecution({ executionId: "nope" })), GRPC_NOT_FOUND, /"nope"/);
  });

  it("gets and lists recorded executions", async () => {
    const run = await api.runExecution({
      blueprint: { case: "blueprintId", value: "greet" },
      inputsJson: '{"name": "Ada"}',
    });
    const { execution } = await api.getExecution({ executionId: run.executionId });
    expect(execution!.status).toBe(ExecutionStatus.COMPLETED);
    expect(JSON.parse(execution!.inputsJson)).toEqual({ name: "Ada" });
    expect(JSON.parse(execution!.outputsJson)).toEqual({ text: "Hello, Ada!" });
    const nodes = Object.fromEntries(execution!.nodes.map((n) => [n.nodeId, n]));
    expect(Object.keys(nodes).sort()).toEqual(["echo", "render", "shout"]);
    expect(nodes.render!.status).toBe(NodeStatus.COMPLETED);
    expect(JSON.parse(nodes.render!.outputsJson)).toEqual({ text: "Hello, Ada!" });
    expect(JSON.parse(nodes.render!.inputsJson)).toEqual({ data: "Ada" });
    expect(nodes.render!.attempt).toBe(1);
    expect(nodes.render!.runtime).toBe("builtin");
    expect(nodes.render!.startedAt).toBeDefined();

    const greetRuns = await api.listExecutions({ blueprintId: "greet" });
    expect(greetRuns.executions[0]!.executionId).toBe(run.executionId);
    expect(greetRuns.executions.every((e) => e.blueprintId === "greet")).toBe(true);
    const failed = await api.listExecutions({ status: ExecutionStatus.FAILED });
    expect(failed.executions.length).toBeGreaterThan(0);
    expect(failed.executions.every((e) => e.blueprintId === "broken" && e.failure?.nodeId === "read")).toBe(
      true,
    );
    expect((await api.listExecutions({ limit: 2 })).executions).toHaveLength(2);
    await expectCallError(api.getExecution({ executionId: "nope" }), GRPC_NOT_FOUND, /no execution "nope"/);
  });

  it("cancels a running execution", async () => {
    const { executionId } = await api.startExecution({ blueprint: { case: "blueprintId", value: "long" } });
    const events = collect(api.watchExecution({ executionId }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await api.cancelExecution({ executionId, reason: "test says stop" })).cancelled).toBe(true);
    const seen = await events;
    expect(seen.at(-1)).toMatch(/:executionFinished$/);
    expect(seen).toContain(`${seen.length - 1}:nodeCancelled:wait`);
    const { execution } = await api.getExecution({ executionId });
    expect(execution!.status).toBe(ExecutionStatus.CANCELLED);
    expect(execution!.nodes.find((n) => n.nodeId === "wait")!.status).toBe(NodeStatus.CANCELLED);
    expect((await api.cancelExecution({ executionId })).cancelled).toBe(false);
    await expectCallError(api.cancelExecution({ executionId: "nope" }), GRPC_NOT_FOUND, /"nope"/);
  });
});

describe("the API over Connect on HTTP/2", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("serves Connect calls and streams over h2c on the same port", async () => {
    const client = createClient(
      ConductorService,
      createConnectTransport({
        baseUrl: fixture.server.url,
        httpVersion: "2",
        interceptors: [bearerToken(fixture.token)],
      }),
    );
    const run = await client.runExecution({
      blueprint: { case: "blueprintId", value: "sum" },
      inputsJson: '{"a":1}',
    });
    expect(JSON.parse(run.outputsJson)).toEqual({ sum: 3 });
    const kinds: (string | undefined)[] = [];
    for await (const { event } of client.watchExecution({ executionId: run.executionId }))
      kinds.push(event?.kind.case);
    expect(kinds.at(0)).toBe("executionStarted");
    expect(kinds.at(-1)).toBe("executionFinished");
  });
});
