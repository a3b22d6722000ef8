/** `POST /hooks/<blueprint-id>`: the JSON body is the inputs; answers when done, or at once with ?async=1. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ExecutionStatus } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { httpRequest, postJson } from "./http-request.js";
import { protocolClient } from "./protocol-clients.js";

describe("webhooks", () => {
  let fixture: ApiFixture;
  let hooks: string;
  beforeAll(async () => {
    fixture = await startApiFixture();
    hooks = `${fixture.server.url}/hooks`;
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("runs the blueprint with the body as inputs and answers 200 with the outputs when it completes", async () => {
    const response = await postJson(`${hooks}/greet`, { name: "Ada" });
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(response.json).toEqual({
      executionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: "completed",
      outputs: { text: "Hello, Ada!" },
    });
    const recorded = fixture.conductor.executions.get(response.json.executionId as string);
    expect(recorded?.status).toBe("completed");
  });

  it("answers 422 with the failure when the execution fails", async () => {
    const response = await postJson(`${hooks}/broken`, {});
    expect(response.status).toBe(422);
    expect(response.json.status).toBe("failed");
    expect(response.json.failure).toMatchObject({ nodeId: "read", retryable: false });
    expect((response.json.failure as { message: string }).message).toMatch(/missing\.txt/);
  });

  it("answers 400 with diagnostics when the inputs do not validate", async () => {
    const response = await postJson(`${hooks}/sum`, { a: "one", c: 3 });
    expect(response.status).toBe(400);
    const error = response.json.error as { code: string; message: string; diagnostics: { path: string }[] };
    expect(error.code).toBe("inputs_invalid");
    expect(error.message).toMatch(/^inputs of blueprint "sum" are invalid/);
    expect(error.diagnostics.map((d) => d.path).sort()).toEqual(["inputs.a", "inputs.c"]);
  });

  it("answers 202 at once with ?async=1 or Prefer: respond-async, and the execution runs on", async () => {
    const response = await postJson(`${hooks}/slow?async=1`, { value: "later" });
    expect(response.status).toBe(202);
    expect(response.json).toEqual({ executionId: expect.any(String), status: "running" });
    const executionId = response.json.executionId as string;
    expect(fixture.conductor.executions.get(executionId)?.status).toBe("running");

    const api = protocolClient("connect", fixture.server.url);
    let finished: ExecutionStatus | undefined;
    for await (const { event } of api.watchExecution({ executionId })) {
      if (event?.kind.case === "executionFinished") {
        finished = event.kind.value.status;
        expect(JSON.parse(event.kind.value.outputsJson)).toEqual({ value: "later" });
      }
    }
    expect(finished).toBe(ExecutionStatus.COMPLETED);

    const preferred = await postJson(`${hooks}/sum`, { a: 1 }, { prefer: "respond-async" });
    expect(preferred.status).toBe(202);
    expect(preferred.headers["preference-applied"]).toBe("respond-async");
  });

  it("answers 404 for a blueprint the project does not have", async () => {
    const response = await postJson(`${hooks}/nope`, {});
    expect(response.status).toBe(404);
    expect(response.json.error).toMatchObject({ code: "blueprint_not_found" });
    expect((response.json.error as { message: string }).message).toMatch(/no blueprint "nope"/);
  });

  it("takes only POST with a JSON object body", async () => {
    const get = await httpRequest(`${hooks}/sum`);
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe("POST");
    const form = await httpRequest(`${hooks}/sum`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "a=1",
    });
    expect(form.status).toBe(415);
    expect(JSON.parse(form.body).error.message).toMatch(/Content-Type: application\/json/);
    const array = await postJson(`${hooks}/sum`, [1, 2]);
    expect(array.status).toBe(400);
    expect((array.json.error as { message: string }).message).toMatch(/must be a JSON object/);
  });

  it("finds a blueprint file added while serving, and runs its new version soon after an edit", async () => {
    const file = join(fixture.dir, "added.blueprint.yaml");
    const blueprint = (value: number) =>
      `conductor: blueprint/v1\nid: added\noutputs: { value: c.value }\nnodes:\n  c: { type: core.constant, config: { value: ${value} } }\n`;
    await writeFile(file, blueprint(1));
    expect((await postJson(`${hooks}/added`, {})).json.outputs).toEqual({ value: 1 });
    await writeFile(file, blueprint(2));
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await postJson(`${hooks}/added`, {})).json.outputs).toEqual({ value: 2 });
  });
});
