/** `@conductor/sdk/client` (connect-web over fetch) from Node, with each of its transports and a token. */
import {
  Code,
  ConnectError,
  createClient,
  ExecutionStatus,
  parseJsonObject,
  toJson,
} from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";

describe("createClient()", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture({ token: "k3y" });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  for (const transport of ["connect", "grpc-web"] as const) {
    it(`runs, watches and lists over ${transport} with the token`, async () => {
      const client = createClient({ baseUrl: fixture.server.url, token: "k3y", transport });
      const run = await client.runExecution({
        blueprint: { case: "blueprintId", value: "greet" },
        inputsJson: toJson({ name: "Grace" }),
      });
      expect(run.status).toBe(ExecutionStatus.COMPLETED);
      expect(parseJsonObject(run.outputsJson)).toEqual({ text: "Hello, Grace!" });
      const kinds: string[] = [];
      for await (const { event } of client.watchExecution({ executionId: run.executionId })) {
        kinds.push(event?.kind.case ?? "");
      }
      expect(kinds[0]).toBe("executionStarted");
      expect(kinds.at(-1)).toBe("executionFinished");
      expect(kinds.filter((kind) => kind === "nodeCompleted")).toHaveLength(3);
      const { executions } = await client.listExecutions({ blueprintId: "greet" });
      expect(executions.map((e) => e.executionId)).toContain(run.executionId);
    });
  }

  it("fails with UNAUTHENTICATED without the token", async () => {
    const client = createClient({ baseUrl: fixture.server.url });
    const error = await client.listBlueprints({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unauthenticated);
    expect((error as ConnectError).rawMessage).toMatch(/Authorization: Bearer <token>/);
  });
});
