/** Browser apps on other origins: only the origins the server was started with may call it. */
import { createApiServer, createConductor } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { httpRequest } from "./http-request.js";

describe("cross-origin calls", () => {
  let fixture: ApiFixture;
  let rpc: string;
  beforeAll(async () => {
    fixture = await startApiFixture({ corsOrigins: ["http://app.example:5173"] });
    rpc = `${fixture.server.url}/conductor.api.v1.ConductorService/ListBlueprints`;
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("answers the preflight of an allowed origin with the Connect methods and headers", async () => {
    const preflight = await httpRequest(rpc, {
      method: "OPTIONS",
      headers: {
        origin: "http://app.example:5173",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version,authorization",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("http://app.example:5173");
    expect(preflight.headers["access-control-allow-methods"]).toContain("POST");
    expect(preflight.headers["access-control-allow-headers"]).toMatch(
      /Content-Type.*Connect-Protocol-Version.*Authorization/i,
    );
  });

  it("lets an allowed origin read the answer, and not another origin", async () => {
    const call = (origin: string) =>
      httpRequest(rpc, {
        method: "POST",
        headers: { origin, "content-type": "application/json", ...fixture.auth },
        body: "{}",
      });
    const allowed = await call("http://app.example:5173");
    expect(allowed.status).toBe(200);
    expect(allowed.headers["access-control-allow-origin"]).toBe("http://app.example:5173");
    expect(allowed.headers["access-control-expose-headers"]).toMatch(/Grpc-Status/i);
    // An allowed origin without the token is still refused: CORS lets a page try, the token decides.
    const anonymous = await httpRequest(rpc, {
      method: "POST",
      headers: { origin: "http://app.example:5173", "content-type": "application/json" },
      body: "{}",
    });
    expect(anonymous.status).toBe(401);
    const other = await call("http://evil.example");
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await httpRequest(rpc, {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
    });
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("refuses what is not an origin", async () => {
    const conductor = await createConductor({
      project: { dir: ".", blueprints: [], nodes: [], runtimes: {} },
    });
    try {
      await expect(createApiServer(conductor, { port: 0, corsOrigins: ["app.example"] })).rejects.toThrow(
        /"app\.example" is not an origin; write it as scheme:\/\/host\[:port\]/,
      );
    } finally {
      await conductor.close();
    }
  });
});
