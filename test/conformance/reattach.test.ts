/**
 * A runtime started by hand and attached with CONDUCTOR_REATTACH (docs/protocol.md §1.6) belongs to whoever started
 * it: the host runs blueprints on it, and when it closes it leaves the runtime running for the next run.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConductor } from "@conductor/host";
import { ENV, RUNTIME_COOKIE } from "@conductor/sdk/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

describe("a runtime attached with CONDUCTOR_REATTACH", () => {
  let dir: string;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let address: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "reattach-"));
    child = spawn(
      process.execPath,
      [repo("runtimes/node/dist/main.js"), repo("test/conformance/kitchen-sink.ts")],
      {
        env: {
          ...process.env,
          [ENV.cookie]: RUNTIME_COOKIE,
          [ENV.socketDir]: dir,
          [ENV.token]: "dev",
          [ENV.runtimeName]: "node",
          [ENV.blobDir]: join(dir, "blobs"),
        },
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    const line = await new Promise<string>((resolve, reject) => {
      let text = "";
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (chunk: string) => {
        text += chunk;
        if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n")));
      });
      void exited.then((code) =>
        reject(new Error(`the runtime exited with ${code} before its handshake line`)),
      );
    });
    address = (JSON.parse(line) as { address: string }).address;
  }, 60_000);

  afterAll(async () => {
    child.stdin?.end();
    await exited;
    await rm(dir, { recursive: true, force: true });
  });

  async function runOnce(a: number, b: number): Promise<unknown> {
    const previous = process.env[ENV.reattach];
    process.env[ENV.reattach] = JSON.stringify({ node: { address, token: "dev" } });
    try {
      const conductor = await createConductor({
        builtinNodes: false,
        project: {
          dir,
          blueprints: [],
          nodes: [],
          runtimes: { node: { kind: "node", modules: [repo("test/conformance/kitchen-sink.ts")] } },
        },
      });
      try {
        const result = await conductor.run(
          {
            conductor: "blueprint/v1",
            nodes: { sum: { type: "conformance.add", inputs: { a: { value: a }, b: { value: b } } } },
            outputs: { sum: "sum.sum" },
          },
          {},
        );
        return result.outputs.sum;
      } finally {
        await conductor.close();
      }
    } finally {
      if (previous === undefined) delete process.env[ENV.reattach];
      else process.env[ENV.reattach] = previous;
    }
  }

  it("runs blueprints on it and leaves it running when the host closes, for the next run", async () => {
    expect(await runOnce(1, 2)).toBe(3);
    // The host closed without Drain or Shutdown: the same process serves the next host.
    expect(child.exitCode).toBeNull();
    expect(await runOnce(20, 22)).toBe(42);
    expect(child.exitCode).toBeNull();
  });
});
