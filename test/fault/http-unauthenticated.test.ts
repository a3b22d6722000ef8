/**
 * A caller without the token, against `conductor serve`: every RPC on every protocol, every webhook and every method
 * on them is refused; what stays open is `/healthz` and the debugger's pages, which carry no token and no data.
 */
import { ConductorService } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "../e2e/api/http-request.js";
import {
  CallError,
  type ProtocolClient,
  type ProtocolName,
  protocolClient,
} from "../e2e/api/protocol-clients.js";
import { type ServeProcess, startServe } from "./http-fixture.js";

const UNAUTHENTICATED = 16;

/** One call of each RPC, as the protocol clients name them, with a request that would otherwise be served. */
const CALLS: Record<string, (api: ProtocolClient) => Promise<unknown>> = {
  StartExecution: (api) =>
    api.startExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' }),
  RunExecution: (api) =>
    api.runExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' }),
  WatchExecution: async (api) => {
    for await (const _ of api.watchExecution({ executionId: "x" })) {
      // nothing arrives
    }
  },
  GetExecution: (api) => api.getExecution({ executionId: "x" }),
  ListExecutions: (api) => api.listExecutions({}),
  CancelExecution: (api) => api.cancelExecution({ executionId: "x" }),
  ListNodeTypes: (api) => api.listNodeTypes({}),
  ValidateBlueprint: (api) => api.validateBlueprint({ blueprint: { case: "blueprintId", value: "sum" } }),
  ListBlueprints: (api) => api.listBlueprints({}),
  GetBlueprint: (api) => api.getBlueprint({ blueprintId: "sum" }),
  ReadValue: async (api) => {
    for await (const _ of api.readValue({ ref: "executions/x/outputs/y" })) {
      // nothing arrives
    }
  },
  PreviewValue: (api) => api.previewValue({ ref: "executions/x/outputs/y" }),
  UploadValue: (api) => api.uploadValue([{ type: "bytes", chunk: new Uint8Array([1, 2, 3]) }]),
  ListSchedules: (api) => api.listSchedules({}),
  ListWorkers: (api) => api.listWorkers({}),
  Deploy: (api) => api.unary("deploy", { document: '{"conductor":"blueprint/v1","id":"x","nodes":{}}' }),
  ListDeployments: (api) => api.unary("listDeployments", {}),
  Rollback: (api) => api.unary("rollback", { blueprintId: "sum", version: 1 }),
  ListKeys: (api) => api.unary("listKeys", {}),
  CreateKey: (api) => api.unary("createKey", { name: "k", role: "admin" }),
  RevokeKey: (api) => api.unary("revokeKey", { id: "0000000000000000" }),
  ListSecrets: (api) => api.unary("listSecrets", {}),
  SetSecret: (api) => api.unary("setSecret", { name: "s", value: "v" }),
  DeleteSecret: (api) => api.unary("deleteSecret", { name: "s" }),
  ListAuditEvents: (api) => api.unary("listAuditEvents", {}),
  VerifyAudit: (api) => api.unary("verifyAudit", {}),
};

describe("conductor serve, called without the token", () => {
  let serve: ServeProcess;
  beforeAll(async () => {
    serve = await startServe();
  });
  afterAll(async () => {
    expect(await serve?.stop()).toBe(0);
  });

  it("has a call for every RPC of the service in this test", () => {
    expect(Object.keys(CALLS).sort()).toEqual(ConductorService.methods.map((method) => method.name).sort());
  });

  for (const protocol of ["connect", "grpc-web", "grpc"] as ProtocolName[]) {
    it(`refuses every RPC over ${protocol} with UNAUTHENTICATED, with no token and with a wrong one`, async () => {
      for (const token of [undefined, "not-the-token"]) {
        const api = protocolClient(protocol, serve.url, token);
        try {
          for (const [name, call] of Object.entries(CALLS)) {
            const error = await call(api).then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(error, `${name} with ${token ?? "no token"}`).toBeInstanceOf(CallError);
            expect((error as CallError).code, `${name}: ${(error as CallError).message}`).toBe(
              UNAUTHENTICATED,
            );
          }
        } finally {
          api.close();
        }
      }
      // Nothing ran.
      const api = protocolClient("connect", serve.url, serve.token);
      expect((await api.listExecutions({})).executions).toEqual([]);
    });
  }

  it("refuses the project's webhooks with 401, whatever the method", async () => {
    for (const method of ["POST", "GET", "PUT", "DELETE", "OPTIONS"]) {
      for (const path of ["/hooks/sum", "/hooks/nope", "/hooks/"]) {
        const withBody = method === "POST" || method === "PUT";
        // Node's client sends a GET's body without a length, which a server must read as the next request.
        const answer = await httpRequest(`${serve.url}${path}`, {
          method,
          headers: withBody ? { "content-type": "application/json" } : {},
          ...(withBody ? { body: '{"a":1}' } : {}),
        });
        expect(answer.status, `${method} ${path}`).toBe(401);
        expect(JSON.parse(answer.body).error.code).toBe("unauthenticated");
      }
    }
  });

  it("refuses /metrics with 401 and a wrong token with 401", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "Basic abc" }]) {
      const answer = await httpRequest(`${serve.url}/metrics`, { headers });
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(answer.body).not.toContain("conductor_");
    }
  });

  it("serves /healthz and the debugger's pages, which hold neither the token nor any execution's data", async () => {
    const health = await httpRequest(`${serve.url}/healthz`);
    expect(JSON.parse(health.body)).toMatchObject({ status: "ok" });
    expect(health.body).not.toContain(serve.token);
    expect((await httpRequest(`${serve.url}/livez`)).body).toBe("ok\n");
    const page = await httpRequest(`${serve.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    const assets = [...page.body.matchAll(/(?:src|href)="\.?(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const path of ["/", "/index.html", ...assets]) {
      const answer = await httpRequest(`${serve.url}${path}`);
      expect(answer.status, path).toBe(200);
      expect(answer.body, path).not.toContain(serve.token);
    }
    for (const path of [
      "/.conductor/api-token",
      "/../.conductor/api-token",
      "/%2e%2e/.conductor/api-token",
    ]) {
      const answer = await httpRequest(`${serve.url}${path}`);
      expect(answer.status, path).toBe(404);
      expect(answer.body, path).not.toContain(serve.token);
    }
  });
});
