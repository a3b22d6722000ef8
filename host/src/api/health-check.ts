import type { Conductor } from "../conductor.js";
import type { RuntimeHealth } from "../runtime/runtime-connection.js";
import { type AuthPolicy, isAuthProblem } from "./auth.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";

/** Liveness: 200 while the process serves requests, whatever its runtimes do. */
export const LIVENESS_PATH = "/livez";
/** Readiness: the state of every runtime; 503 while one is broken. */
export const HEALTH_PATH = "/healthz";

/** The body of `/healthz`. */
export interface HealthReport {
  /** `ok`: every runtime serves; `degraded`: one is starting or restarting; `broken`: one is broken. */
  status: "ok" | "degraded" | "broken";
  runtimes: (Omit<RuntimeHealth, "reason" | "pid"> & { reason?: string; pid?: number })[];
}

/**
 * Answers the health endpoints when `path` is one of them, and gives whether it was; they need no token. Use it
 * first in the server's plain-HTTP routes.
 *
 * `/livez` says the host process is alive (200 `ok`), for a supervisor deciding whether to restart the server.
 * `/healthz` reports each runtime as `ok`, `starting`, `restarting` or `broken`, and answers 503 while one is
 * broken, for a load balancer or a monitor deciding whether to send work; the server itself still serves every
 * blueprint that does not need the broken runtime. Reasons and process ids are shown only to callers the API would
 * accept (they may quote a runtime's stderr), so strangers learn no more than the states.
 */
export function answerHealth(
  path: string,
  request: HttpRequest,
  response: HttpResponse,
  conductor: Conductor,
  policy: AuthPolicy,
): boolean {
  const route = path.split("?", 1)[0];
  if (route === LIVENESS_PATH) {
    send(response, 200, "text/plain; charset=utf-8", "ok\n");
    return true;
  }
  if (route !== HEALTH_PATH) return false;
  const answer = (trusted: boolean) => {
    const report = healthReport(conductor.runtimeHealth(), trusted);
    send(
      response,
      report.status === "broken" ? 503 : 200,
      "application/json; charset=utf-8",
      `${JSON.stringify(report)}\n`,
    );
  };
  const identity = policy.authenticate(request.headers.authorization);
  if (identity instanceof Promise) {
    identity.then(
      (result) => answer(!isAuthProblem(result)),
      () => answer(false),
    );
  } else answer(!isAuthProblem(identity));
  return true;
}

/** The `/healthz` report of these runtimes; `detailed` adds reasons and process ids. */
export function healthReport(runtimes: readonly RuntimeHealth[], detailed: boolean): HealthReport {
  const status = runtimes.some((runtime) => runtime.state === "broken")
    ? "broken"
    : runtimes.every((runtime) => runtime.state === "ok")
      ? "ok"
      : "degraded";
  return {
    status,
    runtimes: runtimes.map(({ reason, pid, ...rest }) => ({
      ...rest,
      ...(detailed && reason !== undefined ? { reason } : {}),
      ...(detailed && pid !== undefined ? { pid } : {}),
    })),
  };
}

function send(response: HttpResponse, status: number, type: string, body: string): void {
  response.writeHead(status, {
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  response.end(body);
}
