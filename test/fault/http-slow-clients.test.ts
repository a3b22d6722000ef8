/**
 * Clients that hold connections without finishing what they started: silent connections, headers sent a byte at a
 * time (slowloris), bodies that never finish, HTTP/2 connections that send only the preface or only pings. The
 * server closes each (here with deadlines of a fraction of a second, set for the test), keeps long answers open,
 * and caps how many connections it holds.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "../e2e/api/api-fixture.js";
import { protocolClient } from "../e2e/api/protocol-clients.js";
import { eventually, exchange, statusOf } from "./http-fixture.js";

const DEADLINE_MS = 300;
/** Long enough for any of the deadlines above to pass many times over; the tests never wait for it to run out. */
const BOUND_MS = 20_000;

describe("slow and idle clients", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture({
      limits: { headersTimeoutMs: DEADLINE_MS, bodyTimeoutMs: DEADLINE_MS, idleTimeoutMs: DEADLINE_MS },
    });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("closes a connection that says nothing", async () => {
    const answer = await exchange(fixture.server.port, [], { waitMs: BOUND_MS });
    expect(answer.closedByServer).toBe(true);
  });

  it("answers 408 to headers sent a byte at a time, and closes the connection", async () => {
    const request = `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${"a".repeat(2_000)}`;
    const socket = net.connect(fixture.server.port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
    });
    let closed = false;
    socket.on("close", () => {
      closed = true;
    });
    socket.on("error", () => {});
    // One byte every 20 ms, for longer than the deadline allows; stops as soon as the server hangs up.
    for (let i = 0; i < request.length && !closed && !socket.destroyed; i++) {
      socket.write(request[i]!);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await eventually(() => closed, BOUND_MS)).toBe(true);
    expect(statusOf(received)).toBe(408);
    socket.destroy();
  });

  it("closes 300 slow-header connections, and serves the next caller", async () => {
    const answers = await Promise.all(
      Array.from({ length: 300 }, () =>
        exchange(fixture.server.port, ["GET /healthz HTTP/1.1\r\nHost: local"], { waitMs: BOUND_MS }),
      ),
    );
    expect(answers.filter((answer) => answer.closedByServer)).toHaveLength(300);
    expect(answers.every((answer) => statusOf(answer.text) === 408)).toBe(true);
    const health = await exchange(fixture.server.port, [
      "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    ]);
    expect(statusOf(health.text)).toBe(200);
  });

  it("answers 408 to a body that stops arriving, on HTTP/1.1 and HTTP/2", async () => {
    const http1 = await exchange(
      fixture.server.port,
      [
        `POST /hooks/sum HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer ${fixture.token}\r\nContent-Length: 100\r\n\r\n{"a":`,
      ],
      { waitMs: BOUND_MS },
    );
    expect(http1.closedByServer).toBe(true);
    expect(statusOf(http1.text)).toBe(408);

    const session = http2.connect(fixture.server.url);
    session.on("error", () => {});
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/conductor.api.v1.ConductorService/RunExecution",
        "content-type": "application/json",
        authorization: `Bearer ${fixture.token}`,
      });
      stream.on("error", () => {});
      stream.write('{"blueprintId": ');
      const status = await new Promise<number | string>((resolve) => {
        stream.on("response", (headers) => resolve(Number(headers[":status"])));
        stream.on("close", () => resolve(`closed with code ${stream.rstCode}`));
      });
      expect([408, `closed with code ${http2.constants.NGHTTP2_CANCEL}`]).toContain(status);
    } finally {
      session.destroy();
    }
    expect(fixture.conductor.executions.list({ blueprintId: "sum" })).toEqual([]);
  });

  it("closes 300 HTTP/2 connections that send only the preface", async () => {
    const answers = await Promise.all(
      Array.from({ length: 300 }, () =>
        exchange(fixture.server.port, ["PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"], { waitMs: BOUND_MS }),
      ),
    );
    expect(answers.filter((answer) => answer.closedByServer)).toHaveLength(300);
  });

  it("closes an HTTP/2 connection that keeps pinging but makes no request", async () => {
    const session = http2.connect(fixture.server.url);
    session.on("error", () => {});
    let closed = false;
    session.on("close", () => {
      closed = true;
    });
    await new Promise<void>((resolve) => session.once("connect", () => resolve()));
    const pings = setInterval(() => {
      if (!session.closed && !session.destroyed) session.ping(() => {});
    }, 50);
    try {
      expect(await eventually(() => closed, BOUND_MS)).toBe(true);
    } finally {
      clearInterval(pings);
      session.destroy();
    }
  });

  it("keeps a long answer open past every deadline: a watch stream over each protocol", async () => {
    // The blueprint runs a 400 ms delay: longer than the deadlines, with no event in between.
    for (const protocol of ["connect", "grpc-web", "grpc"] as const) {
      const api = protocolClient(protocol, fixture.server.url, fixture.token);
      try {
        const { executionId } = await api.startExecution({
          blueprint: { case: "blueprintId", value: "slow" },
        });
        const kinds: string[] = [];
        for await (const { event } of api.watchExecution({ executionId })) kinds.push(event?.kind.case ?? "");
        expect(kinds.at(-1), protocol).toBe("executionFinished");
      } finally {
        api.close();
      }
    }
  });
});

describe("the connection cap", () => {
  let fixture: ApiFixture;
  beforeAll(async () => {
    fixture = await startApiFixture({ limits: { maxConnections: 5 } });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  it("closes connections beyond the cap as they arrive, and takes new ones once others are gone", async () => {
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const socket = net.connect(fixture.server.port, "127.0.0.1");
        socket.on("error", () => {});
        await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
        held.push(socket);
      }
      const extra = await exchange(
        fixture.server.port,
        ["GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"],
        {
          waitMs: BOUND_MS,
        },
      );
      expect(extra.closedByServer).toBe(true);
      expect(extra.text).toBe("");
      held.pop()!.destroy();
      const health = await new Promise<number | undefined>((resolve, reject) => {
        const attempt = (left: number) => {
          http
            .get(`${fixture.server.url}/healthz`, { agent: false }, (response) => {
              response.resume();
              resolve(response.statusCode);
            })
            .on("error", (error) => (left > 0 ? setTimeout(() => attempt(left - 1), 50) : reject(error)));
        };
        // The server may not have seen the closed socket go yet: a few tries, each one a new connection.
        attempt(100);
      });
      expect(health).toBe(200);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});
