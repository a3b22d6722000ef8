import { describe, expect, it } from "vitest";
import type { Conductor } from "../conductor.js";
import type { RuntimeHealth } from "../runtime/runtime-connection.js";
import { createAuthPolicy } from "./auth.js";
import { answerHealth, healthReport } from "./health-check.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";

const ok: RuntimeHealth = { name: "builtin", state: "ok", restarts: 0, nodeTypes: 30 };
const broken: RuntimeHealth = {
  name: "python",
  state: "broken",
  reason: "it crashed 5 times within 60 s (last: exited with code 3); its last stderr lines: secret=…",
  restarts: 4,
  nodeTypes: 7,
};
const restarting: RuntimeHealth = {
  name: "rust",
  state: "restarting",
  reason: "exited with code 3",
  restarts: 1,
  nodeTypes: 2,
};

/** Answers `path` as a server with the token "s3cret" would, to a caller sending `authorization` (null: none). */
function call(path: string, runtimes: RuntimeHealth[], authorization: string | null = "Bearer s3cret") {
  const answer = { status: 0, headers: {} as Record<string, unknown>, body: "" };
  const response = {
    headersSent: false,
    setHeader() {},
    writeHead(status: number, headers: Record<string, unknown>) {
      answer.status = status;
      answer.headers = headers;
    },
    end(chunk: string) {
      answer.body = chunk;
    },
    destroy() {},
  } as unknown as HttpResponse;
  const request = {
    headers: { host: "127.0.0.1:7070", ...(authorization === null ? {} : { authorization }) },
  } as unknown as HttpRequest;
  const conductor = { runtimeHealth: () => runtimes } as unknown as Conductor;
  const handled = answerHealth(path, request, response, conductor, createAuthPolicy({ token: "s3cret" }));
  return { handled, ...answer };
}

describe("answerHealth()", () => {
  it("answers /healthz 200 with every runtime's state while none is broken", () => {
    const answer = call("/healthz", [ok, restarting]);
    expect(answer).toMatchObject({ handled: true, status: 200 });
    expect(JSON.parse(answer.body)).toEqual({
      status: "degraded",
      runtimes: [ok, restarting],
    });
    expect(JSON.parse(call("/healthz?verbose", [ok]).body).status).toBe("ok");
  });

  it("answers /healthz 503 while a runtime is broken, naming it and why", () => {
    const answer = call("/healthz", [ok, broken]);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({ status: "broken", runtimes: [ok, broken] });
  });

  it("tells a caller without the server's token the states only, not the reasons", () => {
    const stranger = JSON.parse(call("/healthz", [broken], null).body);
    expect(stranger.runtimes).toEqual([{ name: "python", state: "broken", restarts: 4, nodeTypes: 7 }]);
    expect(JSON.parse(call("/healthz", [broken], "Bearer wrong").body).runtimes[0].reason).toBeUndefined();
    const trusted = JSON.parse(call("/healthz", [broken]).body);
    expect(trusted.runtimes[0].reason).toBe(broken.reason);
  });

  it("answers /livez 200 whatever the runtimes do, and leaves other paths alone", () => {
    expect(call("/livez", [broken])).toMatchObject({ handled: true, status: 200, body: "ok\n" });
    expect(call("/healthzz", [broken]).handled).toBe(false);
  });
});

describe("healthReport()", () => {
  it("is ok only when every runtime is ok", () => {
    expect(healthReport([ok], false).status).toBe("ok");
    expect(healthReport([ok, { ...restarting, state: "starting" }], false).status).toBe("degraded");
    expect(healthReport([restarting, broken], false).status).toBe("broken");
  });
});
