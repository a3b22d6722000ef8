import { cors } from "@connectrpc/connect";
import type { HttpRequest, HttpResponse } from "./http-types.js";

/**
 * Cross-origin access for browser apps served from elsewhere (a page on another origin calling the API with
 * connect-web). Only the origins the server is started with may call; none by default, because a page that may call
 * a server without a token can run blueprints as the person who opened it. `*` (any origin) therefore needs a token.
 */
export interface CorsPolicy {
  /**
   * Adds the CORS headers an allowed origin needs; answers a preflight request itself. Gives true when the request
   * has been answered.
   */
  handle(request: HttpRequest, response: HttpResponse): boolean;
}

/** Why these origins cannot be allowed, or undefined when they can. */
export function corsProblem(origins: readonly string[], token: string | undefined): string | undefined {
  if (origins.includes("*") && (token === undefined || token === "")) {
    return 'allowing every origin ("*") needs a token: without one, any web page could run blueprints on this server; give --token, or name the origins that may call it';
  }
  const bad = origins.find((origin) => origin !== "*" && !/^https?:\/\/[^/\s]+$/.test(origin));
  return bad === undefined
    ? undefined
    : `"${bad}" is not an origin; write it as scheme://host[:port], e.g. https://app.example.com`;
}

const allowMethods = cors.allowedMethods.join(", ");
const allowHeaders = [...cors.allowedHeaders, "Authorization"].join(", ");
const exposeHeaders = [...cors.exposedHeaders, "Conductor-Error-Code"].join(", ");

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
