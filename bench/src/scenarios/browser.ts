import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createConductor } from "@conductor/host";
import { type BuildOptions, build } from "esbuild";
import { chromium } from "playwright-core";
import { increment } from "../bench-nodes.js";
import { chain } from "../blueprints.js";
import { summarize } from "../stats.js";
import { againstFloor, type BenchResult, type Scenario } from "./index.js";

const repo = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const CHROMIUM = "/usr/bin/chromium";

/** scripts/browser-build.mjs, the engine's browser build. */
interface BrowserBuild {
  browserBuildOptions(options: BuildOptions): BuildOptions;
}

const one = (type: string) => ({
  conductor: "blueprint/v1" as const,
  nodes: { n: { type, inputs: { x: "inputs.x" } } },
  inputs: { x: { schema: { type: "number" } } },
  outputs: { x: "n.x" },
});

/**
 * The engine in Chromium (Debian's, through playwright-core) against the same engine in the Node host, in the same
 * run: a WebAssembly node call in a page's Web Worker against a TypeScript node in the page, the same call against
 * the host's, and the 10-node in-process chain in the page against the host's.
 */
export const browserScenario: Scenario = {
  id: "browser-engine",
  title:
    "the engine in a Chromium page: a wasm node call in a Web Worker and the 10-node chain, against the host",
  async run(context) {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing; run \`bash scripts/setup.sh\``);
    const { browserBuildOptions } = (await import(
      pathToFileURL(repo("scripts/browser-build.mjs")).href
    )) as BrowserBuild;
    const bundle = async (entry: string) =>
      (await build(browserBuildOptions({ entryPoints: [entry], write: false }))).outputFiles![0]!.text;
    const files: Record<string, string | Uint8Array> = {
      "/": '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>',
      "/page.js": await bundle(repo("bench/src/browser/bench-page.ts")),
      "/worker.js": await bundle(repo("host/src/wasm/browser-worker.ts")),
      "/increment.wasm": await readFile(repo("examples/wasm/nodes/increment.wasm")),
      "/increment.nodes.json": await readFile(repo("examples/wasm/nodes/increment.nodes.json")),
    };
    const server = createServer((request, response) => {
      const body = files[request.url ?? ""];
      if (body === undefined) {
        response.writeHead(404).end();
        return;
      }
      const url = request.url!;
      const type = url.endsWith(".js")
        ? "text/javascript"
        : url.endsWith(".wasm")
          ? "application/wasm"
          : url.endsWith(".json")
            ? "application/json"
            : "text/html";
      response.writeHead(200, { "content-type": type }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    const conductor = await createConductor({
      nodes: [increment],
      store: false,
      cache: false,
      project: {
        dir: process.cwd(),
        blueprints: [],
        nodes: [],
        runtimes: { wasm: { kind: "wasm", modules: [repo("examples/wasm/nodes/increment.wasm")] } },
      },
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page
        .waitForFunction(
          () => (globalThis as { bench?: { ready?: boolean } }).bench?.ready === true,
          undefined,
          {
            timeout: 60_000,
          },
        )
        .catch((error: Error) => {
          throw new Error(`the benchmark page did not start: ${errors.join("; ") || error.message}`);
        });
      const inPage = (name: string, warmup: number, iterations: number) =>
        page.evaluate(
          ([which, w, n]) =>
            (
              globalThis as unknown as {
                bench: { time(name: string, w: number, n: number): Promise<number> };
              }
            ).bench.time(which, w, n),
          [name, warmup, iterations] as const,
        );
      const host = {
        "wasm-one": await conductor.prepare(one("c.increment")),
        "typescript-one": await conductor.prepare(one("bench.increment")),
        "chain-10": await conductor.prepare(chain(10)),
      };
      const inHost = async (name: keyof typeof host, warmup: number, iterations: number) => {
        const prepared = host[name];
        const expected = name === "chain-10" ? 11 : 2;
        const check = await prepared.run({ x: 1 });
        if (check.outputs.x !== expected)
          throw new Error(`${name} gave ${String(check.outputs.x)} in the host, expected ${expected}`);
        for (let i = 0; i < warmup; i++) await prepared.run({ x: 1 });
        const started = performance.now();
        for (let i = 0; i < iterations; i++) await prepared.run({ x: 1 });
        return ((performance.now() - started) * 1000) / iterations;
      };
      // Alternating rounds, so that page and host see the same machine state.
      const names = ["wasm-one", "typescript-one", "chain-10"] as const;
      const samples = {
        page: { "wasm-one": [] as number[], "typescript-one": [] as number[], "chain-10": [] as number[] },
        host: { "wasm-one": [] as number[], "typescript-one": [] as number[], "chain-10": [] as number[] },
      };
      const warmup = context.iterations(200);
      const iterations = context.iterations(1_000);
      for (let round = 0; round < (context.smoke ? 1 : 7); round++) {
        for (const name of names) {
          samples.page[name].push(await inPage(name, warmup, iterations));
          samples.host[name].push(await inHost(name, warmup, iterations));
        }
      }
      const median = (list: number[]) => summarize(list).median;
      const results: BenchResult[] = [
        againstFloor(
          "browser-wasm-call",
          "one-node blueprint in a Chromium page, C node in WebAssembly (a call in a Web Worker), per execution",
          median(samples.page["wasm-one"]),
          {
            what: "same blueprint in the page, TypeScript node in the page",
            value: median(samples.page["typescript-one"]),
          },
          // The host's budget for the same crossing (wasm-call-node).
          10,
        ),
        {
          id: "browser-wasm-call-vs-host",
          what: "one-node blueprint of the C node in WebAssembly, in a Chromium page (Web Worker), per execution",
          value: median(samples.page["wasm-one"]),
          unit: "µs",
          floor: { what: "same in the Node host (worker thread)", value: median(samples.host["wasm-one"]) },
          ratio: median(samples.page["wasm-one"]) / median(samples.host["wasm-one"]),
          target: "reported",
        },
        againstFloor(
          "browser-chain-10",
          "10-node chain of in-process TypeScript nodes in a Chromium page, per execution",
          median(samples.page["chain-10"]),
          { what: "same chain in the Node host", value: median(samples.host["chain-10"]) },
          // The same scheduler on the same engine (V8): the page should not be much slower than the host.
          3,
        ),
      ];
      return results;
    } finally {
      await browser.close();
      await conductor.close();
      await new Promise((resolve) => server.close(resolve));
    }
  },
};
