import { parseJsonText } from "@conductor/sdk/protocol";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ExecutionHandle, PreparedBlueprint } from "../conductor.js";
import { ConductorError } from "../errors.js";
import type { QuotaGate } from "../tenancy/scoped-service.js";
import { type AuditSink, type AuthPolicy, authorize, isAuthProblem, PEER_HEADER } from "./auth.js";
import type { ExecutionStarter } from "./execution-starter.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";
import { ANONYMOUS, type Identity } from "./identity.js";
import { jsonText } from "./json-text.js";
import { decodePath, isRequestProblem, requestUrl } from "./malformed-requests.js";

/** The path prefix of webhooks: `POST /hooks/<blueprint-id>`. */
export const HOOKS_PREFIX = "/hooks/";

/** Most bytes a webhook body may have (1 MiB). */
export const MAX_WEBHOOK_BODY_BYTES = 1 << 20;

type Request = HttpRequest & { readonly httpVersionMajor?: number };
type Response = HttpResponse;

/** What the webhooks of a server share. */
export interface WebhookOptions {
  starter: ExecutionStarter;
  /** Authenticates callers of webhooks that are not public. */
  policy: AuthPolicy;
  /** Ids of the blueprints whose webhook needs no token (conductor.yaml `access.publicWebhooks`). */
  publicWebhooks: ReadonlySet<string>;
  /** Aborted when the server shuts down: synchronous webhooks then cancel the execution they wait for. */
  shutdownSignal?: AbortSignal;
  /** Records refused calls and the executions webhooks start. */
  audit?: AuditSink;
  /** The namespaces' quotas, shared with the API: a start beyond one is refused with 429. */
  quotas?: QuotaGate;
}

/**
 * `POST /hooks/<blueprint-id>` starts that project blueprint with the JSON request body as its inputs.
 *
 * - 200 `{executionId, status: "completed", outputs}` when it completes;
 * - 422 `{executionId, status: "failed", failure}` when a node failed; 409 when it was cancelled;
 * - 400 `{error: {code, message, diagnostics}}` for inputs that do not validate or a body that is not a JSON
 *   object; 404 for an unknown blueprint; 415 without `Content-Type: application/json`; 413 for a body over 1 MiB.
 * - With `?async=1` or `Prefer: respond-async`: 202 `{executionId, status: "running"}` at once.
 * - 401 without the server's token, unless the blueprint is listed in `access.publicWebhooks`.
 *
 * The caller is authenticated from the headers before the body is read. A JSON content type is required because
 * it makes a cross-site form post impossible (browsers only send it after a CORS preflight this server grants only
 * to the origins it is told).
 */
export async function handleWebhook(
  request: Request,
  response: Response,
  options: WebhookOptions,
): Promise<void> {
  const url = requestUrl(request);
  if (isRequestProblem(url)) {
    reply(response, 400, { error: { code: "bad_request", message: url.message } });
    return;
  }
  const blueprintId = decodePath(url.pathname.slice(HOOKS_PREFIX.length));
  if (isRequestProblem(blueprintId)) {
    reply(response, 400, { error: { code: "bad_request", message: blueprintId.message } });
    return;
  }
  const isPublic = options.publicWebhooks.has(blueprintId);
  const address = String(request.headers[PEER_HEADER] ?? "");
  let identity: Identity = ANONYMOUS;
  if (!isPublic) {
    const authenticated = await options.policy.authenticate(request.headers.authorization);
    const problem = isAuthProblem(authenticated)
      ? authenticated
      : authorize(authenticated, "run", `run blueprint "${blueprintId}"`);
    if (problem !== undefined) {
      options.audit?.record({
        identity: isAuthProblem(authenticated) ? ANONYMOUS : authenticated,
        action: "webhook",
        target: `blueprint:${blueprintId.slice(0, 200)}`,
        address,
        outcome: problem.kind,
        detail: problem.message,
      });
      if (problem.kind === "unauthenticated")
        response.setHeader("WWW-Authenticate", 'Bearer realm="conductor"');
      reply(response, problem.kind === "unauthenticated" ? 401 : 403, {
        error: { code: problem.kind, message: problem.message },
      });
      return;
    }
    // A caller of another namespace runs its namespace's deployed blueprints (the starter answers 404 for others).
    identity = authenticated as Identity;
  }
  if (request.method !== "POST") {
    response.setHeader("Allow", "POST");
    reply(response, 405, {
      error: { code: "method_not_allowed", message: `webhooks take POST, got ${request.method}` },
    });
    return;
  }
  const refused = bodyProblem(request);
  if (refused !== undefined) {
    // A body that will never be read is not read to reach the connection's next request: the connection ends.
    if (refused.status === 413 && request.httpVersionMajor === 1) response.setHeader("Connection", "close");
    reply(response, refused.status, { error: { code: refused.code, message: refused.message } });
    return;
  }
  let inputs: Record<string, unknown>;
  try {
    inputs = parseBody(await readBody(request));
  } catch (error) {
    const status = (error as { status?: number }).status ?? 400;
    reply(response, status, {
      error: { code: status === 413 ? "too_large" : "inputs_invalid", message: (error as Error).message },
    });
    return;
  }
  const respondAsync =
    ["1", "true"].includes(url.searchParams.get("async") ?? "") ||
    /\brespond-async\b/i.test(String(request.headers.prefer ?? ""));
  let handle: ExecutionHandle;
  let admitted = false;
  try {
    options.quotas?.admit(identity.namespace);
    admitted = true;
    const prepared = await options.starter.prepare(
      { case: "blueprintId", value: blueprintId },
      identity,
      webhookVersion(url.searchParams.get("version")),
    );
    if (isPublic) assertPublicInputs(prepared);
    const traceparent = request.headers.traceparent;
    handle = prepared.start(inputs, {
      ...(typeof traceparent === "string" ? { traceparent } : {}),
      trigger: "api",
    });
    options.starter.recordStart(prepared, handle.executionId);
    options.quotas?.releaseWhenFinished(identity.namespace, handle.executionId);
  } catch (error) {
    if (admitted) options.quotas?.release(identity.namespace);
    options.audit?.record({
      identity,
      action: "webhook",
      target: `blueprint:${blueprintId.slice(0, 200)}`,
      address,
      // An unknown blueprint (or one of another namespace) is `not_found`, as in the API; the rest `refused`.
      outcome:
        error instanceof ConnectError && error.code === Code.NotFound
          ? "not_found"
          : error instanceof ConnectError && error.code === Code.ResourceExhausted
            ? "resource_exhausted"
            : "refused",
      detail: (error as Error).message,
    });
    replyError(response, error);
    return;
  }
  options.audit?.record({
    identity,
    action: "webhook",
    target: `execution:${handle.executionId}`,
    address,
    outcome: "ok",
    detail: `blueprint:${blueprintId.slice(0, 200)}`,
  });
  if (respondAsync) {
    response.setHeader("Preference-Applied", "respond-async");
    reply(response, 202, { executionId: handle.executionId, status: "running" });
    return;
  }
  // A server shutting down cancels the executions its callers wait for, so they get an answer.
  const shutdownSignal = options.shutdownSignal;
  const onShutdown = () => handle.cancel("the server is shutting down");
  shutdownSignal?.addEventListener("abort", onShutdown, { once: true });
  const result = await handle.result.finally(() => shutdownSignal?.removeEventListener("abort", onShutdown));
  if (result.status === "completed") {
    // Outputs are written as JSON text once; building an object first would encode them twice.
    replyText(
      response,
      200,
      `{"executionId":${JSON.stringify(result.executionId)},"status":"completed","outputs":${jsonText(result.outputs)}}`,
    );
    return;
  }
  reply(response, result.status === "failed" ? 422 : 409, {
    executionId: result.executionId,
    status: result.status,
    ...(result.failure === undefined ? {} : { failure: result.failure }),
  });
  return;
}

/** The deployed version `?version=<n>` pins (0, the current one, when absent). */
function webhookVersion(value: string | null): number {
  if (value === null || value === "" || value === "latest") return 0;
  if (!/^[1-9][0-9]{0,8}$/.test(value)) {
    throw new ConnectError(
      `?version= takes a deployed version number (1, 2, ...) or "latest", got ${JSON.stringify(value.slice(0, 40))}`,
      Code.InvalidArgument,
    );
  }
  return Number(value);
}

/** Why a webhook's body is refused before it is read: its type, its encoding or its declared size. */
function bodyProblem(request: Request): { status: number; code: string; message: string } | undefined {
  const contentType = String(request.headers["content-type"] ?? "");
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(contentType)) {
    return {
      status: 415,
      code: "unsupported_media_type",
      message: `send the inputs as a JSON object with "Content-Type: application/json", got ${contentType === "" ? "no Content-Type" : `"${contentType}"`}`,
    };
  }
  const encoding = String(request.headers["content-encoding"] ?? "identity")
    .trim()
    .toLowerCase();
  if (encoding !== "identity" && encoding !== "") {
    return {
      status: 415,
      code: "unsupported_media_type",
      message: `webhooks take an uncompressed body, got "Content-Encoding: ${encoding}"`,
    };
  }
  const length = Number(request.headers["content-length"] ?? "0");
  if (length > MAX_WEBHOOK_BODY_BYTES) {
    return {
      status: 413,
      code: "too_large",
      message: `the body is larger than ${MAX_WEBHOOK_BODY_BYTES} bytes (Content-Length ${length})`,
    };
  }
  return undefined;
}

/**
 * A public webhook takes only inputs the blueprint describes: every input must declare a schema, which the inputs
 * are checked against (unknown inputs are refused for every blueprint).
 */
function assertPublicInputs(prepared: PreparedBlueprint): void {
  const open = Object.entries(prepared.graph.inputs).filter(
    ([, input]) => Object.keys(input.schema).length === 0,
  );
  if (open.length === 0) return;
  throw new ConnectError(
    `blueprint "${prepared.graph.id}" is listed in access.publicWebhooks, but its input${open.length === 1 ? "" : "s"} ${open.map(([name]) => `"${name}"`).join(", ")} declare${open.length === 1 ? "s" : ""} no schema; a public webhook takes only inputs with a schema, so the project's owner should give ${open.length === 1 ? "it one" : "them one"}`,
    Code.PermissionDenied,
  );
}

function replyError(response: Response, error: unknown): void {
  if (error instanceof ConductorError) {
    // The host's own trouble (a runtime, the journal, shutting down) is 503; the caller's mistakes are 400.
    const unavailable =
      error.code.startsWith("runtime") ||
      error.code === "abi_mismatch" ||
      error.code === "journal_failed" ||
      error.code === "closed";
    reply(response, unavailable ? 503 : error.code === "internal" ? 500 : 400, {
      error: { code: error.code, message: error.message, diagnostics: error.diagnostics },
    });
    return;
  }
  if (error instanceof ConnectError) {
    const [status, code] =
      error.code === Code.NotFound
        ? [404, "blueprint_not_found"]
        : error.code === Code.ResourceExhausted
          ? [429, "resource_exhausted"]
          : error.code === Code.PermissionDenied
            ? [403, "permission_denied"]
            : [400, "invalid"];
    reply(response, status, { error: { code, message: error.rawMessage } });
    return;
  }
  reply(response, 500, { error: { code: "internal", message: (error as Error).message } });
  return;
}

async function readBody(request: Request): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    if (size > MAX_WEBHOOK_BODY_BYTES) {
      throw Object.assign(new Error(`the body is larger than ${MAX_WEBHOOK_BODY_BYTES} bytes`), {
        status: 413,
      });
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseBody(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = parseJsonText(text);
  } catch (error) {
    throw new Error(`the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error('the body must be a JSON object of input names to values, e.g. {"name": "Ada"}');
  }
  return value as Record<string, unknown>;
}

/** Writes a JSON reply. */
export function reply(response: Response, status: number, body: unknown): void {
  replyText(response, status, JSON.stringify(body));
}

function replyText(response: Response, status: number, text: string): void {
  if (response.headersSent) return;
  response.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
  });
  response.end(text);
}
