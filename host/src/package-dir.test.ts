import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hostPackageDir, repositoryPath } from "./package-dir.js";

describe("hostPackageDir", () => {
  it("finds the host's own package, and the runtimes shipped beside it", () => {
    const manifest = JSON.parse(readFileSync(join(hostPackageDir(), "package.json"), "utf8")) as {
      name: string;
    };
    expect(manifest.name).toBe("@conductor/host");
    expect(existsSync(repositoryPath("runtimes", "python", "pyproject.toml"))).toBe(true);
  });
});
