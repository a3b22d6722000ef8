import type { ConductorMetrics } from "../telemetry/conductor-metrics.js";
import { type AuthPolicy, isAuthProblem } from "./auth.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";

/** Where the Prometheus metrics are served. */
export const METRICS_PATH = "/metrics";

/**
 * Answers a scrape of `/metrics` with Prometheus's text format. It needs the API's token, like every call that
 * reads anything (Prometheus sends it with `authorization: { credentials_file: ... }` in its scrape config), because
 * the series name the project's blueprints, node types and runtimes (docs/telemetry.md).
 */
export async function answerMetrics(
  request: HttpRequest,
  response: HttpResponse,
  metrics: ConductorMetrics,
  policy: AuthPolicy,
): Promise<void> {
  const identity = policy.authenticate(request.headers.authorization);
  if (isAuthProblem(identity)) {
    response.writeHead(401, {
      "Content-Type": "text/plain; charset=utf-8",
      "WWW-Authenticate": 'Bearer realm="conductor"',
    });
    response.end(`${identity.message}\n`);
    return;
  }
  const body = await metrics.registry.metrics();
  response.writeHead(200, {
    "Content-Type": metrics.registry.contentType,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
  });
  response.end(body);
}
