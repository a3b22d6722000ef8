/**
 * OpenID Connect bearer tokens: verified with the issuer's JWKS (served here on 127.0.0.1, and rotated), its
 * issuer, audience and expiry; the role and namespace claims decide what the caller may do and see.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { type CallError, protocolClient } from "./protocol-clients.js";

const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;
const AUDIENCE = "conductor-test";

type Key = { kid: string; privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]; jwk: JWK };

async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" } };
}

describe("OIDC bearer tokens", () => {
  let fixture: ApiFixture;
  let issuerServer: http.Server;
  let issuer: string;
  let published: Key[] = [];
  let jwksFetches = 0;

  const sign = (
    key: Key,
    claims: Record<string, unknown>,
    options: { aud?: string; iss?: string; exp?: string } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: key.kid })
      .setIssuer(options.iss ?? issuer)
      .setAudience(options.aud ?? AUDIENCE)
      .setSubject("ada@example.com")
      .setIssuedAt()
      .setExpirationTime(options.exp ?? "5m")
      .sign(key.privateKey);

  async function call(token: string) {
    const api = protocolClient("connect", fixture.server.url, token);
    try {
      return await api.listExecutions({}).then(
        (answer) => ({ ok: true as const, count: answer.executions.length }),
        (error: unknown) => ({
          ok: false as const,
          code: (error as CallError).code,
          message: (error as CallError).message,
        }),
      );
    } finally {
      api.close();
    }
  }

  beforeAll(async () => {
    issuerServer = http.createServer((request, response) => {
      if (request.url === "/.well-known/openid-configuration") {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
        return;
      }
      if (request.url === "/jwks") {
        jwksFetches++;
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ keys: published.map((key) => key.jwk) }));
        return;
      }
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => issuerServer.listen(0, "127.0.0.1", resolve));
    issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
    fixture = await startApiFixture({ oidc: { issuer, audience: AUDIENCE, jwksCooldownMs: 0 } });
  });
  afterAll(async () => {
    await fixture?.close();
    await new Promise((resolve) => issuerServer?.close(resolve));
  });

  it("accepts a valid token, with the role and namespace its claims give", async () => {
    const first = await newKey("k1");
    published = [first];
    const viewer = await sign(first, { conductor_role: "viewer" });
    expect(await call(viewer)).toEqual({ ok: true, count: 0 });
    // A viewer may not start anything.
    const api = protocolClient("connect", fixture.server.url, viewer);
    try {
      const refused = await api
        .startExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' })
        .catch((error: CallError) => error);
      expect((refused as CallError).code).toBe(PERMISSION_DENIED);
      expect((refused as CallError).message).toContain(
        'caller "oidc:ada@example.com" (role viewer) may not call StartExecution: it needs the "run" permission, which the roles operator, editor and admin have',
      );
    } finally {
      api.close();
    }
    // An operator of another namespace does not see the default namespace's blueprints.
    const other = protocolClient(
      "connect",
      fixture.server.url,
      await sign(first, { conductor_role: "operator", conductor_namespace: "team-a" }),
    );
    try {
      expect((await other.listBlueprints({})).blueprints).toEqual([]);
    } finally {
      other.close();
    }
  });

  it("refuses expired, wrong-audience, wrong-issuer, forged and claim-less tokens, saying why", async () => {
    const key = published[0]!;
    const stranger = await newKey("k1");
    const cases: [string, string][] = [
      [await sign(key, { conductor_role: "admin" }, { exp: "-1m" }), "it has expired"],
      [
        await sign(key, { conductor_role: "admin" }, { aud: "someone-else" }),
        `it is not for this server's audience "${AUDIENCE}"`,
      ],
      [await sign(key, { conductor_role: "admin" }, { iss: "https://evil.example" }), "it was not issued by"],
      [await sign(stranger, { conductor_role: "admin" }), "its signature does not verify"],
      [await sign(key, {}), 'the bearer token\'s "conductor_role" claim must be one of admin'],
      [await sign(key, { conductor_role: "root" }), '"conductor_role" claim must be one of'],
      [
        await sign(key, { conductor_role: "admin", conductor_namespace: "../default" }),
        '"conductor_namespace" claim: a namespace is',
      ],
    ];
    for (const [token, message] of cases) {
      const answer = await call(token);
      expect(answer, message).toMatchObject({ ok: false, code: UNAUTHENTICATED });
      expect((answer as { message: string }).message, message).toContain(message);
    }
    const audit = await import("@conductor/host").then(({ openTenancyStore }) =>
      openTenancyStore(fixture.dir),
    );
    try {
      // Entries are written just after the answers.
      await expect
        .poll(
          () => audit.listAudit({ limit: 100 }).filter((entry) => entry.outcome === "unauthenticated").length,
        )
        .toBeGreaterThanOrEqual(cases.length);
    } finally {
      audit.close();
    }
  });

  it("follows the issuer's key rotation: a token of the new key is accepted, one of the retired key is not", async () => {
    const old = published[0]!;
    const oldToken = await sign(old, { conductor_role: "viewer" });
    expect((await call(oldToken)).ok).toBe(true);
    const next = await newKey("k2");
    published = [next];
    const before = jwksFetches;
    expect(await call(await sign(next, { conductor_role: "viewer" }))).toEqual({ ok: true, count: 0 });
    expect(jwksFetches).toBeGreaterThan(before);
    const retired = await call(oldToken);
    expect(retired).toMatchObject({ ok: false, code: UNAUTHENTICATED });
    expect((retired as { message: string }).message).toContain(
      "it is signed with a key the issuer does not publish",
    );
  });
});
