import { readFile, stat } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { hostPackageDir } from "../package-dir.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";
import { decodePath, isRequestProblem, requestUrl } from "./malformed-requests.js";

/** Where the built visual debugger is: `host/debugger/dist`. */
export const DEFAULT_DEBUGGER_DIR = join(hostPackageDir(), "debugger", "dist") + sep;

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
};

/** The page talks only to its own origin: scripts, styles and API calls from here and nowhere else. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

type Request = HttpRequest;
type Response = HttpResponse;

/**
 * Serves the files of a directory for GET and HEAD: `/` is `index.html`; hashed assets under `/assets/` are cached
 * for good, everything else is revalidated. When the directory has no index.html, `/` explains how to build it.
 */
export function createStaticFiles(dir: string): (request: Request, response: Response) => Promise<void> {
  const root = resolve(dir);
  return async (request, response) => {
    const url = requestUrl(request);
    const pathname = isRequestProblem(url) ? url : decodePath(url.pathname);
    if (isRequestProblem(pathname)) {
      response.writeHead(400, { "Content-Type": "text/plain; charset=utf-8" });
      response.end(`${pathname.message}\n`);
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain; charset=utf-8" });
      response.end(
        `${request.method} is not served here; the API is under /conductor.api.v1.ConductorService/\n`,
      );
      return;
    }
    const relativePath = pathname.endsWith("/") ? `${pathname}index.html` : pathname;
    const file = normalize(join(root, relativePath));
    if (file !== root && !file.startsWith(root + sep)) notFound(response, pathname);
    if (file !== root && !file.startsWith(root + sep)) return;
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) {
      if (relativePath === "/index.html") notBuilt(response, root);
      if (relativePath === "/index.html") return;
      notFound(response, pathname);
      return;
    }
    // The debugger's files are small: read whole, they need no stream.
    const body = request.method === "HEAD" ? undefined : await readFile(file);
    response.writeHead(200, {
      "Content-Type": contentTypes[extname(file)] ?? "application/octet-stream",
      "Content-Length": info.size,
      "Cache-Control": pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      "X-Content-Type-Options": "nosniff",
      ...(extname(file) === ".html" ? { "Content-Security-Policy": CONTENT_SECURITY_POLICY } : {}),
    });
    response.end(body);
  };
}

function notFound(response: Response, pathname: string): void {
  response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
  response.end(`not found: ${pathname}\n`);
}

function notBuilt(response: Response, root: string): void {
  response.writeHead(503, { "Content-Type": "text/plain; charset=utf-8" });
  response.end(
    `the visual debugger is not built (no index.html in ${root}); run \`bash scripts/setup-debugger.sh\` and reload\n`,
  );
}
