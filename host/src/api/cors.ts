import { cors } from "@connectrpc/connect";
import type { HttpRequest, HttpResponse } from "./http-types.js";

/**
 * Cross-origin access for browser apps served from elsewhere (a page on another origin calling the API with
 * connect-web and the server's token). Only the origins the server is started with may call; none by default, so
 * that pages on other origins cannot even try the token. `*` allows any origin.
 */
export interface CorsPolicy {
  /**
   * Adds the CORS headers an allowed origin needs; answers a preflight request itself. Gives true when the request
   * has been answered.
   */
  handle(request: HttpRequest, response: HttpResponse): boolean;
}

/** Why these origins cannot be allowed, or undefined when they can. */
export function corsProblem(origins: readonly string[]): string | undefined {
  const bad = origins.find((origin) => origin !== "*" && !/^https?:\/\/[^/\s]+$/.test(origin));
  return bad === undefined
    ? undefined
    : `"${bad}" is not an origin; write it as scheme://host[:port], e.g. https://app.example.com`;
}

const allowMethods = cors.allowedMethods.join(", ");
const allowHeaders = [...cors.allowedHeaders, "Authorization"].join(", ");
const exposeHeaders = [...cors.exposedHeaders, "Conductor-Error-Code"].join(", ");

/** Creates the policy allowing `origins` (`*` for any). */
export function createCorsPolicy(origins: readonly string[]): CorsPolicy {
  const any = origins.includes("*");
  const allowed = new Set(origins);
  return {
    handle(request, response) {
      const origin = request.headers.origin;
      if (origin === undefined || (!any && !allowed.has(origin))) return false;
      response.setHeader("Access-Control-Allow-Origin", origin);
      response.setHeader("Vary", "Origin");
      if (request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined) {
        response.writeHead(204, {
          "Access-Control-Allow-Methods": allowMethods,
          "Access-Control-Allow-Headers": allowHeaders,
          "Access-Control-Max-Age": "7200",
        });
        response.end();
        return true;
      }
      response.setHeader("Access-Control-Expose-Headers", exposeHeaders);
      return false;
    },
  };
}
