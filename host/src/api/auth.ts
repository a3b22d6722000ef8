import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/**
 * Who may call the server. A server bound to a loopback address needs no token by default: only programs on this
 * machine reach it. Any other bind must have a bearer token, because the API runs code. Without a token, a
 * loopback server still refuses requests whose Host header names another machine, because a web page could
 * otherwise reach it through DNS rebinding.
 */
export interface AuthPolicy {
  /** The token requests must carry, if any. */
  readonly token: string | undefined;
  /**
   * Checks a request's headers; gives the problem as a message, or undefined when it may proceed. The message
   * names the `Authorization: Bearer` header, so the caller knows what to send.
   */
  check(headers: {
    authorization?: string | null | undefined;
    host?: string | null | undefined;
  }): AuthProblem | undefined;
}

/** Why a request was refused: `unauthenticated` (no or wrong token) or `forbidden_host` (DNS rebinding guard). */
export interface AuthProblem {
  kind: "unauthenticated" | "forbidden_host";
  message: string;
}

/** Whether a bind address only accepts connections from this machine. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "");
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || /^::ffff:127\./i.test(bare);
  return false;
}

/**
 * Why a server may not start with these options, or undefined when it may: a bind that is not loopback requires a
 * token.
 */
export function bindProblem(host: string, token: string | undefined): string | undefined {
  if (isLoopback(host) || (token !== undefined && token !== "")) return undefined;
  return (
    `refusing to serve on ${host} without a token: any machine that reaches ${host} could run blueprints. ` +
    `Give one with --token <secret> or the CONDUCTOR_TOKEN environment variable (clients then send ` +
    `"Authorization: Bearer <secret>"), or bind to 127.0.0.1`
  );
}

/** Creates the policy of a server bound to `host`. */
export function createAuthPolicy(host: string, token: string | undefined): AuthPolicy {
  const expected = token === undefined || token === "" ? undefined : Buffer.from(token, "utf8");
  const guardHost = expected === undefined && isLoopback(host);
  return {
    token: expected?.toString("utf8"),
    check(headers) {
      if (guardHost && !isLoopbackHostHeader(headers.host)) {
        return {
          kind: "forbidden_host",
          message: `requests to this server must name a loopback host (localhost, 127.0.0.1, [::1]), got Host "${headers.host ?? ""}"; to serve other hosts, start it with --token`,
        };
      }
      if (expected === undefined) return undefined;
      const header = headers.authorization ?? "";
      const match = /^Bearer\s+(.+)$/i.exec(header.trim());
      if (match === null) {
        return {
          kind: "unauthenticated",
          message:
            header === ""
              ? 'this server requires a token: send the header "Authorization: Bearer <token>"'
              : 'the Authorization header must be "Bearer <token>"',
        };
      }
      const given = Buffer.from(match[1]!, "utf8");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return {
          kind: "unauthenticated",
          message: 'wrong token in the "Authorization: Bearer" header',
        };
      }
      return undefined;
    },
  };
}

function isLoopbackHostHeader(host: string | null | undefined): boolean {
  // HTTP/2 clients that send no :authority (and HTTP/1.0 ones without Host) come from programs, not pages.
  if (host === undefined || host === null || host === "") return true;
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
  return isLoopback(name);
}

/** A Connect interceptor enforcing a policy on every RPC, with UNAUTHENTICATED or PERMISSION_DENIED. */
export function authInterceptor(policy: AuthPolicy): Interceptor {
  return (next) => async (request) => {
    const problem = policy.check({
      authorization: request.header.get("authorization"),
      // HTTP/2 requests carry no Host header (their :authority is not among the headers connect passes on).
      host: request.header.get("host"),
    });
    if (problem !== undefined) {
      throw new ConnectError(
        problem.message,
        problem.kind === "unauthenticated" ? Code.Unauthenticated : Code.PermissionDenied,
      );
    }
    return await next(request);
  };
}
