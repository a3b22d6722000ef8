import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWasmRuntime } from "@conductor/host";
import type { FailureInfo, InvocationSink } from "@conductor/sdk/protocol";
import { build, type Metafile } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.js";
import { serveFiles } from "./static-files.js";

// The wasm runtime in a real Chromium page (Debian's, driven by playwright-core), against the same runtime in the
// host: the same modules must give the same outputs and the same failures. The modules are built by
// scripts/setup-wasm.sh, which scripts/setup.sh runs.
const root = fileURLToPath(new URL("../..", import.meta.url));
const files: Record<string, Uint8Array | string> = {};

async function bundle(entry: string): Promise<{ code: string; metafile: Metafile }> {
  const result = await build({
    entryPoints: [join(root, "test/e2e/fixtures/wasm-page", entry)],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    conditions: ["source"],
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  return { code: result.outputFiles[0]!.text, metafile: result.metafile };
}

type Outcome =
  | { kind: "completed"; outputs: Record<string, unknown> }
  | { kind: "failed"; failure: FailureInfo }
  | { kind: "cancelled"; reason: string }
  | { kind: "rejected"; failure: FailureInfo };

describe("the wasm runtime in Chromium", () => {
  let server: Awaited<ReturnType<typeof serveFiles>> | undefined;
  let browser: Browser;
  let page: Page;
  let host: Awaited<ReturnType<typeof startWasmRuntime>>;
  let metafiles: Metafile[];

  beforeAll(async () => {
    const [pageBundle, worker] = await Promise.all([bundle("page.ts"), bundle("worker.ts")]);
    metafiles = [pageBundle.metafile, worker.metafile];
    files["/page.js"] = pageBundle.code;
    files["/worker.js"] = worker.code;
    files["/"] = '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>';
    for (const name of ["checksum", "text-stats"]) {
      files[`/nodes/${name}.wasm`] = await readFile(join(root, `examples/wasm/nodes/${name}.wasm`));
      files[`/nodes/${name}.nodes.json`] = await readFile(
        join(root, `examples/wasm/nodes/${name}.nodes.json`),
      );
    }
    files["/fixtures/faulty.wasm"] = await readFile(join(root, "test/wasm/fixtures/faulty.wasm"));
    files["/fixtures/faulty.nodes.json"] = await readFile(join(root, "test/wasm/fixtures/faulty.nodes.json"));
    server = await serveFiles(files);
    browser = await launchChromium();
    page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${server.url}/`);
    await page
      .waitForFunction(() => (globalThis as { ready?: boolean }).ready === true, undefined, {
        timeout: 30_000,
      })
      .catch((error: Error) => {
        throw new Error(`the page did not start: ${errors.join("; ") || error.message}`);
      });
    host = await startWasmRuntime(
      "wasm",
      { kind: "wasm", modules: ["nodes/checksum.wasm", "nodes/text-stats.wasm"], memoryMb: 256 },
      join(root, "examples/wasm"),
    );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await host?.close();
    await server?.close();
  });

  const inPage = (nodeType: string, inputs: Record<string, unknown>, config: unknown = {}, timeoutMs = 0) =>
    page.evaluate(
      ([type, given, configured, timeout]) =>
        (
          globalThis as unknown as {
            runNode(t: string, i: unknown, c: unknown, m: number): Promise<unknown>;
          }
        ).runNode(type, given, configured, timeout),
      [nodeType, inputs, config, timeoutMs] as const,
    ) as Promise<Outcome>;

  const inHost = (nodeType: string, inputs: Record<string, unknown>, config: unknown = {}) =>
    new Promise<Outcome>((resolve) => {
      const sink: InvocationSink = {
        started() {},
        log() {},
        progress() {},
        chunk() {},
        heartbeat() {},
        completed: (_s, outputs) =>
          resolve({
            kind: "completed",
            outputs: Object.fromEntries(
              Object.entries(outputs).map(([port, value]) => [
                port,
                value instanceof Uint8Array ? { bytes: Array.from(value) } : value,
              ]),
            ),
          }),
        failed: (_s, failure) => resolve({ kind: "failed", failure }),
        cancelled: (_s, reason) => resolve({ kind: "cancelled", reason }),
        rejected: (failure) => resolve({ kind: "rejected", failure }),
      };
      host.execute(
        {
          invocationId: 1,
          executionId: "host",
          steps: [
            {
              nodeId: "n",
              nodeType,
              attempt: 1,
              config,
              inputs: Object.fromEntries(Object.entries(inputs).map(([port, value]) => [port, { value }])),
              timeoutMs: 0,
            },
          ],
        },
        sink,
      );
    });

  it("is bundled for the browser with no Node built-in", () => {
    const imports = metafiles.flatMap((metafile) =>
      Object.values(metafile.inputs).flatMap((input) => input.imports.map((entry) => entry.path)),
    );
    expect(imports.filter((path) => path.startsWith("node:"))).toEqual([]);
    expect(
      Object.keys(metafiles[0]!.inputs).some((path) => path.endsWith("host/src/wasm/wasm-call.ts")),
    ).toBe(true);
  });

  it("gives the same CRC-32 over 8 MiB in the page as in the host", async () => {
    const data = new Uint8Array(8 * 1_048_576);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2_654_435_761) >>> 24;
    const [fromPage, fromHost] = await Promise.all([
      inPage("cpp.crc32", { data: { pattern: data.length } }),
      inHost("cpp.crc32", { data }),
    ]);
    expect(fromPage.kind).toBe("completed");
    expect(fromPage).toEqual(fromHost);
  });

  it("gives the same blurred image and text statistics in the page as in the host", async () => {
    const pixels = Array.from({ length: 64 * 48 }, (_, i) => (i * 7) & 0xff);
    const blurredInPage = await inPage(
      "cpp.box-blur",
      { pixels: { bytes: pixels } },
      { width: 64, height: 48 },
    );
    expect(blurredInPage).toEqual(
      await inHost("cpp.box-blur", { pixels: new Uint8Array(pixels) }, { width: 64, height: 48 }),
    );
    const text = 'two "quoted"\nlines, é and 🎉';
    expect(await inPage("as.text-stats", { text })).toEqual({
      kind: "completed",
      outputs: { words: 6, lines: 2, characters: 27 },
    });
    expect(await inPage("as.text-stats", { text })).toEqual(await inHost("as.text-stats", { text }));
  });

  it("stops a module that loops forever in the page by terminating its Web Worker, and serves the next call", async () => {
    const looping = await inPage("fault.spin", {}, {}, 300);
    expect(looping).toMatchObject({
      kind: "failed",
      failure: {
        type: "wasm.timeout",
        message:
          'wasm module "fixtures/faulty.wasm" ran past its time limit of 300 ms and was stopped (its worker terminated)',
      },
    });
    expect(await inPage("fault.double", { n: 4 })).toEqual({ kind: "completed", outputs: { n: 8 } });
  });

  it("fails a trap and a memory cap in the page as in the host", async () => {
    expect(await inPage("fault.trap", {})).toMatchObject({
      kind: "failed",
      failure: { type: "wasm.trap", message: 'wasm module "fixtures/faulty.wasm" trapped: unreachable' },
    });
    expect(await inPage("fault.hog", {})).toMatchObject({
      kind: "failed",
      failure: {
        type: "wasm.memory",
        details: { module: "fixtures/faulty.wasm", memoryCapBytes: 16 * 1_048_576 },
      },
    });
  });
});
