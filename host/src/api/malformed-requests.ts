import type { HttpRequest } from "./http-types.js";

/** A request the server cannot serve as sent: the status to answer (400) and why, in words for its sender. */
export interface RequestProblem {
  status: 400;
  message: string;
}

/**
 * Why an API call cannot reach the Connect handlers, or undefined when it can. They build the call's URL from its
 * authority (the Host header, or HTTP/2's `:authority`) and throw when it is missing (HTTP/1.0 needs no Host) or is
 * no host name, which would take the whole server down; such calls get 400 instead.
 */
export function rpcRequestProblem(request: HttpRequest & { authority?: string }): RequestProblem | undefined {
  // As connect-node reads it: an HTTP/2 request's :authority (a Host header beside it is not looked at), else Host.
  const authority = "authority" in request ? request.authority : request.headers.host;
  if (authority === undefined || authority === "") {
    return {
      status: 400,
      message:
        "an API call must name the server it calls: send a Host header (HTTP/1.0 requests have none by default), or :authority over HTTP/2",
    };
  }
  let url: URL | undefined;
  try {
    url = new URL(`http://${authority}`);
  } catch {
    url = undefined;
  }
  if (
    url === undefined ||
    url.host === "" ||
    url.pathname !== "/" ||
    url.username !== "" ||
    url.search !== ""
  ) {
    return {
      status: 400,
      message: `the Host header ${JSON.stringify(authority.slice(0, 200))} is not a host name with an optional port`,
    };
  }
  return undefined;
}

/**
 * The URL of a request's target (origin form `/path?query`, or absolute form), or a problem when it is no URL.
 * Webhooks and the debugger's pages read paths from it.
 */
export function requestUrl(request: HttpRequest): URL | RequestProblem {
  const target = request.url ?? "/";
  try {
    return new URL(target, "http://localhost");
  } catch {
    return {
      status: 400,
      message: `the request target ${JSON.stringify(target.slice(0, 200))} is not a URL`,
    };
  }
}

/** A path segment with its %-escapes decoded, or a problem when they are not valid percent-encoded UTF-8. */
export function decodePath(path: string): string | RequestProblem {
  try {
    return decodeURIComponent(path);
  } catch {
    return {
      status: 400,
      message: `the path ${JSON.stringify(path.slice(0, 200))} has a "%" that does not start a valid escape (%XX of UTF-8 bytes)`,
    };
  }
}

/** Whether a value is a {@link RequestProblem}. */
export function isRequestProblem(value: unknown): value is RequestProblem {
  return typeof value === "object" && value !== null && (value as { status?: unknown }).status === 400;
}
