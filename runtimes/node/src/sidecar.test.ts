import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ENV, RUNTIME_COOKIE } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { parseSidecarArgs } from "./sidecar.js";

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const fixture = fileURLToPath(new URL("../../../test/fixtures/nodes/math-nodes.ts", import.meta.url));

describe("the Node sidecar", () => {
  it("says what it is and exits 2 when started by hand", async () => {
    const error = await promisify(execFile)(process.execPath, [main, fixture]).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toMatch(
      /^this is the Conductor node runtime \(conductor-runtime-node 0\.1\.0\); it is started by the Conductor host, not by hand/,
    );
  });

  it("prints one handshake line, then exits when its stdin closes (no orphan when the host dies)", async () => {
    const socketDir = await mkdtemp(join(tmpdir(), "sidecar-"));
    const child = spawn(process.execPath, [main, fixture], {
      env: {
        ...process.env,
        [ENV.cookie]: RUNTIME_COOKIE,
        [ENV.socketDir]: socketDir,
        [ENV.token]: "t",
        [ENV.runtimeName]: "node",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const line = await new Promise<string>((resolve) =>
      child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString())),
    );
    expect(JSON.parse(line)).toMatchObject({
      conductor: 1,
      abi: 1,
      network: "unix",
      address: join(socketDir, "node.sock"),
      runtime: "node",
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.stdin.end();
    expect(await exited).toBe(0);
    await rm(socketDir, { recursive: true, force: true });
  });

  it("parses its arguments, rejecting unknown options", () => {
    expect(parseSidecarArgs(["a.ts", "--max-concurrency=4"])).toEqual({
      modules: ["a.ts"],
      maxConcurrency: 4,
    });
    expect(() => parseSidecarArgs(["--fast"])).toThrow('unknown option "--fast"');
    expect(() => parseSidecarArgs(["--max-concurrency=0"])).toThrow(
      "--max-concurrency expects a positive integer",
    );
  });
});
