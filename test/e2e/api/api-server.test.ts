/** The listener that hands each connection to HTTP/1.1 or HTTP/2 by its first bytes, under misbehaving clients. */
import net from "node:net";
import { ExecutionStatus } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { httpRequest } from "./http-request.js";
import { CallError, protocolClient } from "./protocol-clients.js";

describe("createApiServer()", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("stays up when clients reset their connection before or after their first bytes", async () => {
    for (const send of ["", "GET /heal", "PRI * HTTP/2.0\r\n"]) {
      const socket = net.connect(fixture.server.port, "127.0.0.1");
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      if (send !== "") socket.write(send);
      await new Promise((resolve) => setTimeout(resolve, 20));
      socket.resetAndDestroy();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await httpRequest(`${fixture.server.url}/livez`)).body).toBe("ok\n");
  });

  it("answers 404 outside the API, the webhooks and the pages, and 405 for other methods on pages", async () => {
    const missing = await httpRequest(`${fixture.server.url}/nothing-here`);
    expect(missing.status).toBe(404);
    const rpc = await httpRequest(`${fixture.server.url}/conductor.api.v1.ConductorService/NoSuchMethod`, {
      method: "POST",
      headers: { "content-type": "application/json", ...fixture.auth },
      body: "{}",
    });
    expect(rpc.status).toBe(404);
  });
});

describe("ApiServer.close()", () => {
  it("ends watch streams with UNAVAILABLE and answers waiting RunExecution calls with their cancelled execution", async () => {
    const fixture = await startApiFixture();
    try {
      const api = protocolClient("connect", fixture.server.url, fixture.token);
      const { executionId } = await api.startExecution({ blueprint: { case: "blueprintId", value: "long" } });
      const seen: string[] = [];
      // Handled from the start: it fails while close() is awaited.
      const watching = (async () => {
        for await (const { event } of api.watchExecution({ executionId })) seen.push(event?.kind.case ?? "");
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      const running = api.runExecution({ blueprint: { case: "blueprintId", value: "long" } });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await fixture.server.close();
      const watchError = await watching;
      expect(watchError).toBeInstanceOf(CallError);
      expect((watchError as CallError).code).toBe(14);
      expect((watchError as CallError).message).toMatch(
        /the server is shutting down; watch again with after_seq \d+/,
      );
      expect(seen.slice(0, 3)).toEqual(["executionStarted", "nodeQueued", "nodeStarted"]);
      const run = await running;
      expect(run.status).toBe(ExecutionStatus.CANCELLED);
    } finally {
      await fixture.close();
    }
  });
});
