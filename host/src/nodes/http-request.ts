import { defineNode, NodeFailure } from "@conductor/sdk";
import { parseJsonText, stringifyJson } from "@conductor/sdk/protocol";
import { z } from "zod";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
/** How much of an error response's body a failure carries. */
const BODY_DETAIL_CHARS = 1_000;

const queryValue = z.union([z.string(), z.number(), z.boolean()]);

/** Statuses worth another attempt: a timeout, rate limiting, and server-side errors. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The delay a Retry-After header asks for, given in seconds or as an HTTP date. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1_000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The URL as messages show it: without credentials and query string, which often carry secrets. */
function redact(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function isJsonContentType(contentType: string | null): boolean {
  return contentType === null || /[/+]json\b/i.test(contentType);
}

/** The request body and the content type it implies when the headers set none. */
function encodeBody(body: unknown): { data: string | Uint8Array<ArrayBuffer>; contentType: string } {
  if (typeof body === "string") return { data: body, contentType: "text/plain; charset=utf-8" };
  if (body instanceof Uint8Array) {
    // A copy over a plain ArrayBuffer, the only kind fetch accepts.
    return { data: new Uint8Array(body), contentType: "application/octet-stream" };
  }
  return { data: stringifyJson(body), contentType: "application/json" };
}

function parseUrl(text: string | undefined): URL {
  if (text === undefined) {
    throw new NodeFailure('no url to request: set config "url" or connect input "url"', { type: "http.url" });
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NodeFailure(`url ${JSON.stringify(text)} is not a valid absolute URL`, { type: "http.url" });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new NodeFailure(
      `url ${JSON.stringify(text)} has protocol "${url.protocol}", expected http: or https:`,
      {
        type: "http.url",
      },
    );
  }
  return url;
}

/**
 * Makes an HTTP request with the global fetch and gives the status, headers and body. A response outside 2xx fails
 * the node unless `failOnStatus` is off; 408, 429 and 5xx are retryable, honouring a Retry-After header. Network
 * errors and timeouts are retryable too. With `responseType` "json" the body is parsed when the response says it
 * is JSON (or says nothing) and given as text otherwise or when it does not parse. Messages show the URL without
 * its query string, which often carries credentials.
 */
export const httpRequest = defineNode({
  type: "core.http-request",
  title: "HTTP request",
  description: "Sends an HTTP request and outputs the response's status, headers and body.",
  config: z.object({
    method: z.enum(METHODS).default("GET"),
    url: z.url().optional().describe('The URL to request; the input "url" overrides it.'),
    headers: z.record(z.string(), z.string()).optional().describe("Request headers."),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .optional()
      .describe("Longest time for the whole exchange, response body included."),
    responseType: z
      .enum(["json", "text", "bytes"])
      .default("json")
      .describe("How the response body is given: parsed JSON (text when it is not JSON), text, or bytes."),
    failOnStatus: z.boolean().default(true).describe("Whether a status outside 2xx fails the node."),
  }),
  input: {
    url: z.string().optional().describe('The URL to request, overriding config "url".'),
    body: z
      .unknown()
      .optional()
      .describe("The request body: a string is sent as text, bytes as they are, anything else as JSON."),
    query: z
      .record(z.string(), z.union([queryValue, z.array(queryValue)]))
      .optional()
      .describe("Query parameters added to the URL; an array repeats the parameter."),
  },
  output: {
    status: z.number().int().describe("The response's status code."),
    headers: z.record(z.string(), z.string()).describe("The response's headers, with lowercase names."),
    body: z.unknown().describe("The response's body, as set by responseType."),
  },
  flags: { cancellable: true },
  run: async (input, ctx) => {
    const { method, headers, timeoutMs, responseType, failOnStatus } = ctx.config;
    const url = parseUrl(input.url ?? ctx.config.url);
    for (const [name, value] of Object.entries(input.query ?? {})) {
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
    }
    const requestHeaders = new Headers(headers);
    let body: string | Uint8Array<ArrayBuffer> | undefined;
    if (input.body !== undefined) {
      if (method === "GET" || method === "HEAD") {
        throw new NodeFailure(
          `a ${method} request cannot have a body; set config "method" to POST, PUT or PATCH`,
          {
            type: "http.request-invalid",
          },
        );
      }
      const encoded = encodeBody(input.body);
      body = encoded.data;
      if (!requestHeaders.has("content-type")) requestHeaders.set("content-type", encoded.contentType);
    }

    const target = `${method} ${redact(url)}`;
    const signal =
      timeoutMs === undefined ? ctx.signal : AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
    const startedAt = performance.now();
    let response: Response;
    let bytes: Uint8Array;
    try {
      response = await fetch(url, {
        method,
        headers: requestHeaders,
        signal,
        ...(body === undefined ? {} : { body }),
      });
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (signal.aborted) {
        throw new NodeFailure(`${target} timed out after ${timeoutMs} ms`, {
          type: "http.timeout",
          retryable: true,
        });
      }
      const cause = (error as Error).cause as NodeJS.ErrnoException | undefined;
      throw new NodeFailure(`${target} failed: ${cause?.message ?? (error as Error).message}`, {
        type: "http.network",
        retryable: true,
        details: { code: cause?.code },
        cause: error,
      });
    }
    ctx.log.debug(`${target} answered ${response.status}`, {
      status: response.status,
      ms: Math.round(performance.now() - startedAt),
    });

    if (!response.ok && failOnStatus) {
      const text = new TextDecoder().decode(bytes);
      const retryable = isRetryableStatus(response.status);
      const delayMs = retryable ? retryAfterMs(response.headers.get("retry-after")) : undefined;
      throw new NodeFailure(
        `${target} returned status ${response.status}${response.statusText === "" ? "" : ` (${response.statusText})`}, expected 2xx`,
        {
          type: "http.status",
          retryable,
          details: {
            status: response.status,
            body: text.length > BODY_DETAIL_CHARS ? `${text.slice(0, BODY_DETAIL_CHARS)}...` : text,
          },
          ...(delayMs === undefined ? {} : { retryDelayMs: delayMs }),
        },
      );
    }

    const responseHeaders = Object.fromEntries(response.headers);
    if (responseType === "bytes") return { status: response.status, headers: responseHeaders, body: bytes };
    const text = new TextDecoder().decode(bytes);
    if (responseType === "text" || !isJsonContentType(response.headers.get("content-type"))) {
      return { status: response.status, headers: responseHeaders, body: text };
    }
    if (text.trim() === "") return { status: response.status, headers: responseHeaders, body: null };
    try {
      // Integers beyond 2^53 - 1 in the answer (ids, often) keep every digit.
      return { status: response.status, headers: responseHeaders, body: parseJsonText(text) };
    } catch {
      ctx.log.debug(`${target}: the response body is not JSON, giving it as text`);
      return { status: response.status, headers: responseHeaders, body: text };
    }
  },
});
