/** The `conductor` command as the end of a pipeline: a reader that stops early (`| head`) ends it quietly. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../../host/bin/conductor.js", import.meta.url));

describe("conductor | a reader that closes early", () => {
  it("exits 0 without an EPIPE crash", async () => {
    const child = spawn(process.execPath, [cli, "schema"], { stdio: ["ignore", "pipe", "pipe"] });
    // Close our end before the command writes anything: every write it makes meets a closed pipe.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });
});
