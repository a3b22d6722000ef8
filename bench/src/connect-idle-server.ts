/**
 * The floor for the idle server's memory: a Connect server for `conductor.api.v1` that does nothing, on HTTP/1.1
 * and h2c, in a Node process like `conductor serve`'s. Started with `--expose-gc`, it runs the same memory-reducing
 * collection once listening that the real server runs, so the two are compared on equal terms. Prints the URL.
 */
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { ConductorService } from "@conductor/sdk/client";
import { connectNodeAdapter } from "@connectrpc/connect-node";

const handler = connectNodeAdapter({ routes: (router) => router.service(ConductorService, {}) });
const http1 = http.createServer(handler);
const h2c = http2.createServer(handler);
http1.listen(0, "127.0.0.1", () => {
  h2c.listen(0, "127.0.0.1", () => {
    (globalThis as { gc?: (options: object) => void }).gc?.({
      type: "major",
      execution: "sync",
      flavor: "last-resort",
    });
    process.stdout.write(`listening on http://127.0.0.1:${(http1.address() as AddressInfo).port}\n`);
  });
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
