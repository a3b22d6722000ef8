import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parseSidecarArgs } from "./sidecar.js";

const main = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const fixture = fileURLToPath(new URL("../../../test/fixtures/nodes/math-nodes.ts", import.meta.url));

// What every runtime must do (the handshake line, exit on stdin close, …) is checked by the conformance kit, which
// CI runs against the sidecar (test/conformance/conformance-kit.test.ts); here, what is particular to it.
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
