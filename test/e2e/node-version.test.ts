/**
 * The `conductor` command on a Node that is too old: host/bin/conductor.js checks the version before it imports
 * anything an older Node lacks, and says what to do, instead of dying with a SyntaxError about a missing export.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { MINIMUM_NODE, nodeVersionProblem } from "../../host/bin/node-version.js";
import { runConductor } from "../fixtures/conductor-command.js";

const root = fileURLToPath(new URL("../../", import.meta.url));

const advice =
  "install a newer Node.js (https://nodejs.org/en/download, or `nvm install 24`) and run the command again";

describe("nodeVersionProblem()", () => {
  it("accepts 22.13 and anything newer, and refuses anything older, naming both versions", () => {
    expect(MINIMUM_NODE).toBe("22.13.0");
    for (const version of ["22.13.0", "22.18.1", "23.0.0", "24.21.0", "30.1.0"]) {
      expect(nodeVersionProblem(version)).toBe(undefined);
    }
    for (const version of ["22.12.9", "20.20.2", "18.0.0", "8.17.0"]) {
      expect(nodeVersionProblem(version, "/usr/bin/node")).toBe(
        `needs Node.js 22.13.0 or newer, found ${version} at /usr/bin/node; ${advice}`,
      );
    }
  });
});

describe("conductor, run by a Node older than 22.13", () => {
  it("says which Node it needs and exits 1, before loading the CLI", async () => {
    // This Node, told it is Node 20 before the bin loads.
    const told = await runConductor(["--version"], {
      cwd: root,
      nodeArguments: [
        "--import",
        'data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.11.1"}})',
      ],
    });
    expect(told).toEqual({
      code: 1,
      stdout: "",
      stderr: `conductor: needs Node.js 22.13.0 or newer, found 20.11.1 at ${process.execPath}; ${advice}\n`,
    });
  });

  // Because a machine may have only a current Node, this runs where an older one is on PATH (Debian's nodejs, say),
  // and is reported as skipped elsewhere.
  const system = olderNode();
  it.runIf(system !== undefined)("says so under a real older Node too (one found on PATH)", async () => {
    if (system === undefined) throw new Error("unreachable: the test runs only with an older Node");
    const real = await runConductor(["--version"], { cwd: root, node: system.path });
    expect(real).toEqual({
      code: 1,
      stdout: "",
      stderr: `conductor: needs Node.js 22.13.0 or newer, found ${system.version} at ${system.path}; ${advice}\n`,
    });
  });
});

/** A Node older than 22.13 on PATH, outside the repository, if there is one. */
function olderNode(): { path: string; version: string } | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const path = join(dir, "node");
    if (dir.startsWith(root) || !existsSync(path)) continue;
    let stdout = "";
    try {
      stdout = execFileSync(path, ["--version"], { encoding: "utf8" });
    } catch {
      continue;
    }
    const version = stdout.trim().replace(/^v/, "");
    if (version !== "" && nodeVersionProblem(version) !== undefined) return { path, version };
  }
  return undefined;
}
