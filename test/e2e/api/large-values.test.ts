/**
 * Large values by reference through the API: outputs above the inline limit come back as handles (ref, type,
 * size, SHA-256) in RunExecution, GetExecution and WatchExecution, and ReadValue streams their bytes; a large
 * input is uploaded with UploadValue and given by its ref; an oversized `inputs_json` is refused naming the limit
 * and the upload path. How much memory the host uses meanwhile is measured by the `api-values` benchmark.
 */
import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  bearerToken,
  Code,
  type ConductorClient,
  ConductorService,
  ConnectError,
  createClient,
  isValueHandle,
  parseJsonObject,
  readValue,
  uploadValue,
  type ValueHandle,
} from "@conductor/sdk/client";
import { createClient as createConnectClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";

const SIZE = 3 * 1024 * 1024;
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("large values through the API", () => {
  let fixture: ApiFixture;
  let client: ConductorClient;
  let text: string;
  let bytes: Uint8Array;

  beforeAll(async () => {
    fixture = await startApiFixture(
      {},
      {
        "big-text.blueprint.yaml": `conductor: blueprint/v1
id: big-text
inputs: { path: { schema: { type: string } } }
outputs: { content: read.content }
nodes:
  read: { type: core.file-read, inputs: { path: inputs.path } }
`,
        "big-bytes.blueprint.yaml": `conductor: blueprint/v1
id: big-bytes
inputs: { path: { schema: { type: string } } }
outputs: { content: read.content }
nodes:
  read: { type: core.file-read, config: { encoding: bytes }, inputs: { path: inputs.path } }
`,
        "relay.blueprint.yaml": `conductor: blueprint/v1
id: relay
inputs: { data: {} }
outputs: { data: pass.value }
nodes:
  pass: { type: core.passthrough, inputs: { value: inputs.data } }
`,
      },
    );
    text = "conductor ".repeat(SIZE / 10);
    bytes = randomBytes(SIZE);
    await writeFile(join(fixture.dir, "big.txt"), text);
    await writeFile(join(fixture.dir, "big.bin"), bytes);
    client = createClient({ baseUrl: fixture.server.url, token: fixture.token });
  });

  afterAll(async () => {
    await fixture?.close();
  });

  const outputHandle = (outputsJson: string, name: string): ValueHandle => {
    const value = parseJsonObject(outputsJson)[name];
    expect(isValueHandle(value), `${name} in ${outputsJson.slice(0, 200)}`).toBe(true);
    return value as ValueHandle;
  };

  it("answers RunExecution with a handle for a large text output, and streams the value through ReadValue", async () => {
    const run = await client.runExecution({
      blueprint: { case: "blueprintId", value: "big-text" },
      inputsJson: JSON.stringify({ path: join(fixture.dir, "big.txt") }),
    });
    expect(run.outputsJson.length).toBeLessThan(500);
    const handle = outputHandle(run.outputsJson, "content");
    const json = Buffer.from(JSON.stringify(text));
    expect(handle).toEqual({
      $ref: `executions/${run.executionId}/outputs/content`,
      type: "json",
      size: json.byteLength,
      sha256: sha256(json),
    });
    const read = await readValue(client, handle);
    expect(sha256(read)).toBe(handle.sha256);
    expect(JSON.parse(new TextDecoder().decode(read))).toBe(text);
  });

  it("gives bytes by handle everywhere an execution's values appear", async () => {
    const run = await client.runExecution({
      blueprint: { case: "blueprintId", value: "big-bytes" },
      inputsJson: JSON.stringify({ path: join(fixture.dir, "big.bin") }),
    });
    const handle = outputHandle(run.outputsJson, "content");
    expect(handle).toMatchObject({ type: "bytes", size: SIZE, sha256: sha256(bytes) });
    expect(Buffer.from(await readValue(client, handle)).equals(bytes)).toBe(true);

    const { execution } = await client.getExecution({ executionId: run.executionId });
    expect(outputHandle(execution!.outputsJson, "content")).toEqual(handle);
    const node = execution!.nodes.find((state) => state.nodeId === "read")!;
    const nodeHandle = outputHandle(node.outputsJson, "content");
    expect(nodeHandle.$ref).toBe(`executions/${run.executionId}/nodes/read/outputs/content`);
    expect(Buffer.from(await readValue(client, nodeHandle)).equals(bytes)).toBe(true);

    let finished: string | undefined;
    for await (const { event } of client.watchExecution({ executionId: run.executionId })) {
      if (event?.kind.case === "executionFinished") finished = event.kind.value.outputsJson;
    }
    expect(outputHandle(finished!, "content")).toEqual(handle);
  });

  for (const [name, transport] of [
    [
      "Connect over HTTP/2",
      (baseUrl: string, token: string) =>
        createConnectTransport({ baseUrl, httpVersion: "2", interceptors: [bearerToken(token)] }),
    ],
    [
      "gRPC",
      (baseUrl: string, token: string) =>
        createGrpcTransport({ baseUrl, interceptors: [bearerToken(token)] }),
    ],
  ] as const) {
    it(`takes a large input through UploadValue (${name}) and runs with it by ref`, async () => {
      const streaming = createConnectClient(ConductorService, transport(fixture.server.url, fixture.token));
      const data = randomBytes(SIZE + 17);
      const uploaded = await uploadValue(streaming, data, "bytes");
      expect(uploaded).toEqual({
        $ref: `uploads/${sha256(data)}`,
        type: "bytes",
        size: data.byteLength,
        sha256: sha256(data),
      });
      const run = await client.runExecution({
        blueprint: { case: "blueprintId", value: "relay" },
        inputsJson: JSON.stringify({ data: { $ref: uploaded.$ref } }),
      });
      const handle = outputHandle(run.outputsJson, "data");
      expect(handle.sha256).toBe(uploaded.sha256);
      expect(Buffer.from(await readValue(client, handle)).equals(data)).toBe(true);
      expect(Buffer.from(await readValue(client, uploaded)).equals(data)).toBe(true);
    });
  }

  it("refuses an inputs_json over the limit, naming the limit and the upload path", async () => {
    const error = await client
      .startExecution({
        blueprint: { case: "blueprintId", value: "relay" },
        inputsJson: JSON.stringify({ data: "x".repeat(17 * 1024 * 1024) }),
      })
      .then(() => undefined, ConnectError.from);
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.rawMessage).toBe(
      `inputs_json is ${17 * 1024 * 1024 + 11} bytes, more than the limit of 16777216; upload large values with UploadValue and pass {"$ref": "<the ref it answers>"} as the input`,
    );
  });

  it("says what is wrong with a ref that names nothing", async () => {
    const missing = "0".repeat(64);
    const start = await client
      .startExecution({
        blueprint: { case: "blueprintId", value: "relay" },
        inputsJson: JSON.stringify({ data: { $ref: `uploads/${missing}` } }),
      })
      .then(() => undefined, ConnectError.from);
    expect(start?.code).toBe(Code.InvalidArgument);
    expect(start?.rawMessage).toBe(
      `input "data" names "uploads/${missing}", which is not an uploaded value; upload it with UploadValue first and pass the ref it answers`,
    );
    const notARef = await readValue(client, "outputs/x").then(() => undefined, ConnectError.from);
    expect(notARef?.code).toBe(Code.InvalidArgument);
    expect(notARef?.rawMessage).toMatch(
      /^"outputs\/x" is not a value ref; expected "executions\/<id>\/outputs\/<name>"/,
    );
    const unknown = await readValue(client, "executions/nope/outputs/x").then(
      () => undefined,
      ConnectError.from,
    );
    expect(unknown?.code).toBe(Code.NotFound);
    expect(unknown?.rawMessage).toBe(
      'no value "executions/nope/outputs/x": execution "nope" is not recorded',
    );
  });

  it("keeps small values inline", async () => {
    const run = await client.runExecution({
      blueprint: { case: "blueprintId", value: "relay" },
      inputsJson: JSON.stringify({ data: { small: [1, 2, 3] } }),
    });
    expect(parseJsonObject(run.outputsJson)).toEqual({ data: { small: [1, 2, 3] } });
  });
});
