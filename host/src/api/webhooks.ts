import { parseJsonText } from "@conductor/sdk/protocol";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ExecutionHandle } from "../conductor.js";
import { ConductorError } from "../errors.js";
import type { ExecutionStarter } from "./execution-starter.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";
import { jsonText } from "./json-text.js";

/** The path prefix of webhooks: `POST /hooks/<blueprint-id>`. */
export const HOOKS_PREFIX = "/hooks/";

/** Most bytes a webhook body may have (1 MiB). */
const MAX_BODY_BYTES = 1 << 20;

type Request = HttpRequest;
type Response = HttpResponse;

/**
 * `POST /hooks/<blueprint-id>` starts that project blueprint with the JSON request body as its inputs.
 *
 * - 200 `{executionId, status: "completed", outputs}` when it completes;
 * - 422 `{executionId, status: "failed", failure}` when a node failed; 409 when it was cancelled;
 * - 400 `{error: {code, message, diagnostics}}` for inputs that do not validate or a body that is not a JSON
 *   object; 404 for an unknown blueprint; 415 without `Content-Type: application/json`.
 * - With `?async=1` or `Prefer: respond-async`: 202 `{executionId, status: "running"}` at once.
 *
 * A JSON content type is required because it makes a cross-site form post impossible (browsers only send it after
 * a CORS preflight this server never grants): a loopback server without a token is safe from web pages.
 */
export async function handleWebhook(
  request: Request,
  response: Response,
  starter: ExecutionStarter,
  shutdownSignal?: AbortSignal,
): Promise<void> {
  const url = new URL(request.url ?? "/", "http://localhost");
  const blueprintId = decodeURIComponent(url.pathname.slice(HOOKS_PREFIX.length));
  if (request.method !== "POST") {
    response.setHeader("Allow", "POST");
    reply(response, 405, {
      error: { code: "method_not_allowed", message: `webhooks take POST, got ${request.method}` },
    });
    return;
  }
  const contentType = String(request.headers["content-type"] ?? "");
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(contentType)) {
    reply(response, 415, {
      error: {
        code: "unsupported_media_type",
        message: `send the inputs as a JSON object with "Content-Type: application/json", got ${contentType === "" ? "no Content-Type" : `"${contentType}"`}`,
      },
    });
    return;
  }
  let inputs: Record<string, unknown>;
  try {
    inputs = parseBody(await readBody(request));
  } catch (error) {
    reply(response, (error as { status?: number }).status ?? 400, {
      error: { code: "inputs_invalid", message: (error as Error).message },
    });
    return;
  }
  const respondAsync =
    ["1", "true"].includes(url.searchParams.get("async") ?? "") ||
    /\brespond-async\b/i.test(String(request.headers.prefer ?? ""));
  let handle: ExecutionHandle;
  try {
    const prepared = await starter.prepare({ case: "blueprintId", value: blueprintId });
    handle = prepared.start(inputs);
  } catch (error) {
    replyError(response, error);
    return;
  }
  if (respondAsync) {
    response.setHeader("Preference-Applied", "respond-async");
    reply(response, 202, { executionId: handle.executionId, status: "running" });
    return;
  }
  // A server shutting down cancels the executions its callers wait for, so they get an answer.
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
    const notFound = error.code === Code.NotFound;
    reply(response, notFound ? 404 : 400, {
      error: { code: notFound ? "blueprint_not_found" : "invalid", message: error.rawMessage },
    });
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
    if (size > MAX_BODY_BYTES) {
      throw Object.assign(new Error(`the body is larger than ${MAX_BODY_BYTES} bytes`), { status: 413 });
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
