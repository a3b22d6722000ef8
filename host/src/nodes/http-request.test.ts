import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpRequest } from "./http-request.js";
import { outputsOf, runNode, runtimeFor, startNode } from "./testing/run-node.js";

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
}

describe("core.http-request", () => {
  let server: Server;
  let base: string;
  /** Resolvers of requests to /hang waiting to be told they arrived. */
  const hanging: (() => void)[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      void (async () => {
        const url = new URL(request.url ?? "/", "http://localhost");
        const body = await readBody(request);
        switch (url.pathname) {
          case "/json":
            return sendJson(response, 200, { hello: "world", items: [1, 2] });
          case "/echo":
            return sendJson(response, 200, {
              method: request.method,
              contentType: request.headers["content-type"] ?? null,
              token: request.headers["x-token"] ?? null,
              body: body.toString("utf8"),
              bytes: [...body],
            });
          case "/query":
            return sendJson(response, 200, { search: url.search, tags: url.searchParams.getAll("tag") });
          case "/text":
            return response.writeHead(200, { "content-type": "text/plain" }).end("plain words");
          case "/not-json":
            return response.writeHead(200, { "content-type": "application/json" }).end("{oops");
          case "/empty":
            return response.writeHead(204).end();
          case "/binary":
            return response
              .writeHead(200, { "content-type": "application/octet-stream" })
              .end(Buffer.from([0, 1, 254, 255]));
          case "/busy":
            return response
              .writeHead(503, { "content-type": "text/plain", "retry-after": "7" })
              .end("try again later");
          case "/hang":
            for (const arrived of hanging.splice(0)) arrived();
            return; // never answers
          default:
            return response.writeHead(404, { "content-type": "text/plain" }).end(`no route ${url.pathname}`);
        }
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("gets JSON, giving status, headers and the parsed body", async () => {
    const run = await runNode(httpRequest, { config: { url: `${base}/json` } });
    const outputs = outputsOf(run);
    expect(outputs.status).toBe(200);
    expect(outputs.body).toEqual({ hello: "world", items: [1, 2] });
    expect(outputs.headers).toMatchObject({ "content-type": "application/json" });
  });

  it("posts a JSON body with its content type and the configured headers", async () => {
    const run = await runNode(httpRequest, {
      config: { method: "POST", url: `${base}/echo`, headers: { "X-Token": "secret" } },
      inputs: { body: { name: "Ada", tags: ["x"] } },
    });
    expect(outputsOf(run).body).toMatchObject({
      method: "POST",
      contentType: "application/json",
      token: "secret",
      body: '{"name":"Ada","tags":["x"]}',
    });
  });

  it("sends a string body as text and bytes as they are", async () => {
    const text = await runNode(httpRequest, {
      config: { method: "PUT", url: `${base}/echo` },
      inputs: { body: "just text" },
    });
    expect(outputsOf(text).body).toMatchObject({
      contentType: "text/plain; charset=utf-8",
      body: "just text",
    });
    const bytes = await runNode(httpRequest, {
      config: { method: "POST", url: `${base}/echo` },
      inputs: { body: new Uint8Array([1, 2, 255]) },
    });
    expect(outputsOf(bytes).body).toMatchObject({
      contentType: "application/octet-stream",
      bytes: [1, 2, 255],
    });
  });

  it("adds query parameters, repeating arrays, to the input url which overrides the config's", async () => {
    const run = await runNode(httpRequest, {
      config: { url: `${base}/json` },
      inputs: { url: `${base}/query?page=2`, query: { q: "a b", tag: ["x", "y"], n: 3, all: true } },
    });
    expect(outputsOf(run).body).toEqual({
      search: "?page=2&q=a+b&tag=x&tag=y&n=3&all=true",
      tags: ["x", "y"],
    });
  });

  it("gives a text body as text, also with responseType json", async () => {
    const asJson = await runNode(httpRequest, { config: { url: `${base}/text` } });
    expect(outputsOf(asJson).body).toBe("plain words");
    const asText = await runNode(httpRequest, { config: { url: `${base}/json`, responseType: "text" } });
    expect(outputsOf(asText).body).toBe('{"hello":"world","items":[1,2]}');
  });

  it("falls back to text when a body said to be JSON does not parse, and gives null for no body", async () => {
    expect(outputsOf(await runNode(httpRequest, { config: { url: `${base}/not-json` } })).body).toBe("{oops");
    const empty = outputsOf(await runNode(httpRequest, { config: { url: `${base}/empty` } }));
    expect(empty).toMatchObject({ status: 204, body: null });
  });

  it("gives bytes with responseType bytes", async () => {
    const run = await runNode(httpRequest, { config: { url: `${base}/binary`, responseType: "bytes" } });
    const body = outputsOf(run).body;
    expect(body).toBeInstanceOf(Uint8Array);
    expect([...(body as Uint8Array)]).toEqual([0, 1, 254, 255]);
  });

  it("fails without retry on 404, with the status and body in the details", async () => {
    const run = await runNode(httpRequest, { config: { url: `${base}/missing?key=secret` } });
    expect(run.failure).toMatchObject({
      type: "http.status",
      retryable: false,
      message: `GET ${base}/missing returned status 404 (Not Found), expected 2xx`,
      details: { status: 404, body: "no route /missing" },
    });
    expect(run.failure?.retryDelayMs).toBeUndefined();
  });

  it("fails retryably on 503, taking the delay from Retry-After", async () => {
    const run = await runNode(httpRequest, { config: { url: `${base}/busy` } });
    expect(run.failure).toMatchObject({
      type: "http.status",
      retryable: true,
      retryDelayMs: 7_000,
      details: { status: 503, body: "try again later" },
    });
  });

  it("gives an error status as output when failOnStatus is off", async () => {
    const run = await runNode(httpRequest, { config: { url: `${base}/missing`, failOnStatus: false } });
    expect(outputsOf(run)).toMatchObject({ status: 404, body: "no route /missing" });
  });

  it("fails retryably on a network error", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const run = await runNode(httpRequest, { config: { url: `http://127.0.0.1:${port}/` } });
    expect(run.failure).toMatchObject({
      type: "http.network",
      retryable: true,
      details: { code: "ECONNREFUSED" },
    });
    expect(run.failure?.message).toMatch(new RegExp(`^GET http://127.0.0.1:${port}/ failed: .*ECONNREFUSED`));
  });

  it("fails retryably when the response takes longer than timeoutMs", async () => {
    const run = await runNode(httpRequest, { config: { url: `${base}/hang`, timeoutMs: 50 } });
    expect(run.failure).toMatchObject({
      type: "http.timeout",
      retryable: true,
      message: `GET ${base}/hang timed out after 50 ms`,
    });
  });

  it("ends at once when cancelled mid-request", async () => {
    const arrived = new Promise<void>((resolve) => hanging.push(resolve));
    const started = startNode(httpRequest, { config: { url: `${base}/hang` } });
    await arrived;
    started.control.cancel("user asked");
    // The server never answers /hang: the run ends only because the cancel ended it.
    const run = await started.done;
    expect(run.events.at(-1)).toBe("cancelled");
    expect(run.cancelled).toBe("user asked");
  });

  it("fails without retry when no url is given", async () => {
    const run = await runNode(httpRequest, {});
    expect(run.failure).toMatchObject({
      type: "http.url",
      retryable: false,
      message: 'no url to request: set config "url" or connect input "url"',
    });
  });

  it("refuses a body on a GET request", async () => {
    const run = await runNode(httpRequest, { config: { url: `${base}/echo` }, inputs: { body: { a: 1 } } });
    expect(run.failure).toMatchObject({ type: "http.request-invalid", retryable: false });
  });

  it("rejects an unknown method and a malformed url in its config", () => {
    const diagnostics = runtimeFor(httpRequest).validateConfig("core.http-request", {
      method: "FETCH",
      url: "not a url",
    });
    expect(diagnostics.map((d) => d.path)).toEqual(["method", "url"]);
  });
});
