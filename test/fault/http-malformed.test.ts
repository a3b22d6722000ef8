/**
 * Requests a server cannot serve as sent, against a `conductor serve` process: each gets a clear 4xx, and the
 * process stays up and goes on serving (a request that used to end it, an HTTP/1.0 call without Host, comes first).
 */
import http2 from "node:http2";
import { ConductorService } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { protocolClient } from "../e2e/api/protocol-clients.js";
import { bodyOf, exchange, type ServeProcess, startServe, statusOf } from "./http-fixture.js";

const RPC = `/${ConductorService.typeName}`;

describe("conductor serve, sent malformed requests", () => {
  let serve: ServeProcess;
  beforeAll(async () => {
    serve = await startServe();
  });
  afterAll(async () => {
    const code = await serve?.stop();
    // It was still up at the end, so SIGTERM stopped it gracefully.
    expect(code).toBe(0);
  });

  /** The server still runs and still serves a real call. */
  async function expectUp(): Promise<void> {
    expect(serve.child.exitCode).toBeNull();
    expect(serve.stderr()).not.toMatch(/uncaught|unhandled|TypeError|ConnectError/i);
    const api = protocolClient("connect", serve.url, serve.token);
    const run = await api.runExecution({
      blueprint: { case: "blueprintId", value: "sum" },
      inputsJson: '{"a":1}',
    });
    expect(JSON.parse(run.outputsJson)).toEqual({ sum: 3 });
  }

  it("answers an HTTP/1.0 API call without a Host header with 400, on every method, and stays up", async () => {
    for (const method of ConductorService.methods) {
      const answer = await exchange(serve.port, [
        `POST ${RPC}/${method.name} HTTP/1.0\r\nContent-Type: application/json\r\nAuthorization: Bearer ${serve.token}\r\nContent-Length: 2\r\n\r\n{}`,
      ]);
      expect(statusOf(answer.text), method.name).toBe(400);
      expect(JSON.parse(bodyOf(answer.text))).toEqual({
        code: "invalid_argument",
        message:
          "an API call must name the server it calls: send a Host header (HTTP/1.0 requests have none by default), or :authority over HTTP/2",
      });
    }
    // Without credentials too: the request is refused before anything else looks at it.
    const anonymous = await exchange(serve.port, [
      `POST ${RPC}/ListExecutions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    ]);
    expect(statusOf(anonymous.text)).toBe(400);
    await expectUp();
  });

  it("answers /healthz and the pages over HTTP/1.0 without Host", async () => {
    const health = await exchange(serve.port, ["GET /healthz HTTP/1.0\r\n\r\n"]);
    expect(statusOf(health.text)).toBe(200);
    expect(JSON.parse(bodyOf(health.text))).toMatchObject({ status: "ok" });
    await expectUp();
  });

  it("answers a Host that is no host name with 400", async () => {
    for (const host of ["a b", "[::1", "example.com/path", "user@example.com", "%zz"]) {
      const answer = await exchange(serve.port, [
        `POST ${RPC}/ListExecutions HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${serve.token}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      ]);
      expect(statusOf(answer.text), host).toBe(400);
      expect(bodyOf(answer.text), host).toContain("is not a host name with an optional port");
    }
    await expectUp();
  });

  it("answers a malformed % escape in a path with 400, for webhooks and pages", async () => {
    for (const path of ["/hooks/%zz", "/hooks/%E0%A4%A", "/hooks/a%"]) {
      const answer = await exchange(serve.port, [
        `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer ${serve.token}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      ]);
      expect(statusOf(answer.text), path).toBe(400);
      expect(bodyOf(answer.text), path).toContain('has a \\"%\\" that does not start a valid escape');
    }
    for (const path of ["/%zz", "/assets/%", "/%C0%AF"]) {
      const page = await exchange(serve.port, [
        `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      ]);
      expect(statusOf(page.text), path).toBe(400);
      expect(bodyOf(page.text), path).toContain('has a "%" that does not start a valid escape');
    }
    await expectUp();
  });

  it("answers a request target that is no URL with 400", async () => {
    const answer = await exchange(serve.port, [
      "GET http://[ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    ]);
    expect(statusOf(answer.text)).toBe(400);
    expect(bodyOf(answer.text)).toContain('the request target \\"http://[\\" is not a URL');
    await expectUp();
  });

  it("answers unknown methods, bad request lines, oversized headers and garbage with 4xx or a closed connection", async () => {
    const cases: [string, (string | Buffer)[]][] = [
      ["unknown method", ["BREW /hooks/sum HTTP/1.1\r\nHost: localhost\r\n\r\n"]],
      ["binary garbage", [Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10])]],
      ["header without colon", ["GET / HTTP/1.1\r\nHost localhost\r\n\r\n"]],
      ["a 64 KiB header", [`GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`]],
      [
        "bad chunked body",
        ["POST /hooks/sum HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
      ],
      ["a NUL in a page's path", ["GET /%00 HTTP/1.1\r\nHost: localhost\r\n\r\n"]],
      ["a NUL in a webhook's path", ["POST /hooks/%00 HTTP/1.1\r\nHost: localhost\r\n\r\n"]],
      ["OPTIONS *", ["OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n"]],
      ["CONNECT", ["CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"]],
      [
        "a request smuggling attempt",
        [
          "POST /hooks/sum HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ],
      ],
      ["half an HTTP/2 preface", ["PRI * HTTP/2.0\r\n\r\nS"]],
      ["an HTTP/2 preface, then garbage", ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Buffer.alloc(64, 7)]],
    ];
    for (const [name, data] of cases) {
      const answer = await exchange(serve.port, data, { waitMs: 3_000 });
      const status = statusOf(answer.text);
      expect(
        status === undefined || (status >= 400 && status < 500),
        `${name}: ${answer.text.slice(0, 80)}`,
      ).toBe(true);
    }
    await expectUp();
  });

  it("refuses an HTTP/2 call with an empty :authority, and stays up after a client resets its streams", async () => {
    const session = http2.connect(serve.url);
    session.on("error", () => {});
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": `${RPC}/ListExecutions`,
        ":authority": "",
        "content-type": "application/json",
        authorization: `Bearer ${serve.token}`,
      });
      stream.end("{}");
      // nghttp2 refuses it as a protocol error before the server's handlers see it, or the server answers 400.
      const outcome = await new Promise<string>((resolve) => {
        stream.on("response", (headers) => resolve(`status ${headers[":status"]}`));
        stream.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      });
      expect(["status 400", "ERR_HTTP2_STREAM_ERROR"]).toContain(outcome);
    } finally {
      session.destroy();
    }
    // A hundred calls cut off mid-body: the server sees each stream reset.
    const cutting = http2.connect(serve.url);
    cutting.on("error", () => {});
    try {
      for (let i = 0; i < 100; i++) {
        const cut = cutting.request({
          ":method": "POST",
          ":path": `${RPC}/RunExecution`,
          "content-type": "application/json",
          authorization: `Bearer ${serve.token}`,
        });
        cut.on("error", () => {});
        cut.write('{"blueprintId": "s');
        cut.close(http2.constants.NGHTTP2_CANCEL);
      }
      // A last call on the same connection is served: the resets hurt nothing.
      const last = cutting.request({ ":method": "GET", ":path": "/healthz" });
      const status = await new Promise((resolve) =>
        last.on("response", (headers) => resolve(headers[":status"])),
      );
      last.resume();
      expect(status).toBe(200);
    } finally {
      cutting.destroy();
    }
    await expectUp();
  });

  it("answers an API call whose inputs nest a million deep with an error, not a crash", async () => {
    const deep = `${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`;
    const api = protocolClient("connect", serve.url, serve.token);
    const error = await api
      .runExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: `{"a": ${deep}}` })
      .then(
        () => undefined,
        (e: unknown) => e as { code: number; message: string },
      );
    expect(error).toBeDefined();
    await expectUp();
  });
});
