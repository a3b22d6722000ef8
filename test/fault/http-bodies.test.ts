/**
 * Request bodies: a caller without the token is refused from its headers, before its body is read (it is never even
 * sent here); bodies over the cap are refused, as sent and once decompressed (a gzip bomb), on every protocol.
 */
import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { ConductorService } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "../e2e/api/api-fixture.js";
import { httpRequest } from "../e2e/api/http-request.js";
import { bodyOf, exchange, statusOf } from "./http-fixture.js";

const RPC = `/${ConductorService.typeName}`;
/** The cap these tests set: small, so that going over it costs the test little. */
const MAX_BODY_BYTES = 256 * 1024;

describe("request bodies", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture({ limits: { maxBodyBytes: MAX_BODY_BYTES } });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  /** A zero-filled JSON document of about `bytes` bytes, gzipped (a few KB for many MB). */
  const bomb = (bytes: number) =>
    gzipSync(Buffer.from(`{"blueprintId": "sum", "inputsJson": "${"0".repeat(bytes)}"}`));

  it("refuses a caller without the token from its headers, before the body it announces arrives", async () => {
    // 1 GB announced, not a byte of it sent: the answer can only come from the headers.
    for (const path of [`${RPC}/RunExecution`, "/hooks/sum"]) {
      const answer = await exchange(fixture.server.port, [
        `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n`,
      ]);
      expect(statusOf(answer.text), path).toBe(401);
      expect(answer.text, path).toMatch(/www-authenticate: Bearer realm="conductor"/i);
      // The unread body is not waited for: the server ends the connection, and says so.
      expect(answer.text, path).toMatch(/\r\nconnection: close\r\n/i);
      expect(answer.closedByServer, path).toBe(true);
    }
  });

  it("refuses a gzip bomb without the token, without inflating it", async () => {
    const body = bomb(50 * 1024 * 1024);
    expect(body.length).toBeLessThan(100 * 1024);
    const answer = await exchange(fixture.server.port, [
      `POST ${RPC}/RunExecution HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      body,
    ]);
    expect(statusOf(answer.text)).toBe(401);
    expect(answer.text).toContain('"code":"unauthenticated"');
  });

  it("refuses a body over the cap with resource_exhausted, from its length and as it streams in", async () => {
    const large = JSON.stringify({
      blueprintId: "sum",
      inputsJson: JSON.stringify({ a: 1, pad: "x".repeat(MAX_BODY_BYTES) }),
    });
    const declared = await httpRequest(`${fixture.server.url}${RPC}/RunExecution`, {
      method: "POST",
      headers: { "content-type": "application/json", ...fixture.auth },
      body: large,
    });
    expect(declared.status).toBe(429);
    expect(JSON.parse(declared.body)).toMatchObject({ code: "resource_exhausted" });
    expect(JSON.parse(declared.body).message).toMatch(new RegExp(`${MAX_BODY_BYTES}`));
    // Chunked: no length to judge by, so the cap holds while reading.
    const chunk = "x".repeat(64 * 1024);
    const chunks = Array.from({ length: 8 }, () => `${(chunk.length).toString(16)}\r\n${chunk}\r\n`);
    const streamed = await exchange(fixture.server.port, [
      `POST ${RPC}/RunExecution HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer ${fixture.token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
      ...chunks,
      "0\r\n\r\n",
    ]);
    expect(streamed.text).toContain('"code":"resource_exhausted"');
    expect(fixture.conductor.executions.list()).toEqual([]);
  });

  it("refuses a gzip bomb from a caller with the token once it inflates past the cap", async () => {
    const body = bomb(50 * 1024 * 1024);
    const answer = await exchange(fixture.server.port, [
      `POST ${RPC}/RunExecution HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nAuthorization: Bearer ${fixture.token}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      body,
    ]);
    expect(statusOf(answer.text)).toBe(429);
    expect(answer.text).toContain(
      `larger than configured readMaxBytes ${MAX_BODY_BYTES} after decompression`,
    );
  });

  it("refuses a gzip bomb in a gRPC message over HTTP/2", async () => {
    const inflated = Buffer.alloc(50 * 1024 * 1024);
    const compressed = gzipSync(inflated);
    // A gRPC frame: compressed flag, 4-byte length, the message.
    const frame = Buffer.concat([Buffer.from([1]), Buffer.alloc(4), compressed]);
    frame.writeUInt32BE(compressed.length, 1);
    const session = http2.connect(fixture.server.url);
    session.on("error", () => {});
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": `${RPC}/ListExecutions`,
        "content-type": "application/grpc",
        "grpc-encoding": "gzip",
        te: "trailers",
        authorization: `Bearer ${fixture.token}`,
      });
      stream.end(frame);
      stream.resume();
      const status = await new Promise<string | undefined>((resolve) => {
        let found: string | undefined;
        stream.on("response", (headers) => {
          found ??= headers["grpc-status"] as string | undefined;
        });
        stream.on("trailers", (trailers) => {
          found ??= trailers["grpc-status"] as string | undefined;
        });
        stream.on("close", () => resolve(found));
      });
      // RESOURCE_EXHAUSTED.
      expect(status).toBe("8");
    } finally {
      session.destroy();
    }
  });
});

describe("webhook bodies, with the API's default cap", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture();
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("refuses a webhook body over 1 MiB from its length, and a compressed one, without reading them, ending the connection", async () => {
    const tooLong = await exchange(fixture.server.port, [
      `POST /hooks/sum HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer ${fixture.token}\r\nContent-Length: 5000000\r\n\r\n`,
    ]);
    expect(statusOf(tooLong.text)).toBe(413);
    expect(JSON.parse(bodyOf(tooLong.text))).toEqual({
      error: { code: "too_large", message: "the body is larger than 1048576 bytes (Content-Length 5000000)" },
    });
    expect(tooLong.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(tooLong.closedByServer).toBe(true);
    const compressed = await exchange(fixture.server.port, [
      `POST /hooks/sum HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nAuthorization: Bearer ${fixture.token}\r\nContent-Length: 5\r\nConnection: close\r\n\r\nxxxxx`,
    ]);
    expect(statusOf(compressed.text)).toBe(415);
    expect(bodyOf(compressed.text)).toContain(
      'webhooks take an uncompressed body, got \\"Content-Encoding: gzip\\"',
    );
  });
});
