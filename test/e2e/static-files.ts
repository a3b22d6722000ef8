/** A server of in-memory files on 127.0.0.1 for the browser tests' pages. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const TYPES: Record<string, string> = {
  js: "text/javascript",
  css: "text/css",
  wasm: "application/wasm",
  json: "application/json",
  yaml: "text/yaml",
};

/**
 * Serves `files` by path (`/` and `/page.js` …; read at each request, so files added later are served), 404 for
 * anything else, with a content type by extension (HTML without one). `onRequest` sees every path asked for.
 */
export async function serveFiles(
  files: Record<string, string | Uint8Array>,
  onRequest?: (path: string) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = request.url ?? "";
    onRequest?.(path);
    const body = files[path];
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    const type = TYPES[path.split(".").at(-1) ?? ""] ?? "text/html";
    response.writeHead(200, { "content-type": type }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
