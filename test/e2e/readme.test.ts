/**
 * The README's quick start, exactly as written: the demo command it gives (after the set-up `npm run demo` does),
 * and the output it shows.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

describe("the README quick start", () => {
  it("runs the demo command of package.json and prints the report the README shows", async () => {
    const readme = await readFile(`${root}README.md`, "utf8");
    expect(readme).toContain("npm run demo");
    expect(readme).toContain("npm test");
    const script = (
      JSON.parse(await readFile(`${root}package.json`, "utf8")) as { scripts: Record<string, string> }
    ).scripts.demo!;
    // The demo script is "<set-up> && <run>": the set-up already ran (npm test runs it first); run the rest as written.
    const run = script.slice(script.indexOf("&&") + 2).trim();
    expect(run).toBe("cd examples/demo && node ../../host/bin/conductor.js run demo.blueprint.yaml");
    const { stdout } = await promisify(execFile)("bash", ["-c", run], { cwd: root, env: { ...process.env } });
    const shown = readme.slice(
      readme.indexOf("report:"),
      readme.indexOf("completed in", readme.indexOf("report:")),
    );
    for (const line of shown.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("completed"))) {
      expect(stdout).toContain(line.trimEnd());
    }
  });
});
