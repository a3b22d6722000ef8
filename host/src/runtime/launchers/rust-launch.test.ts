import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newestSource } from "./rust-launch.js";

describe("newestSource()", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rust-sources-"));
    await mkdir(join(dir, "src", "nodes"), { recursive: true });
    await mkdir(join(dir, "target", "release"), { recursive: true });
    await writeFile(join(dir, "Cargo.toml"), "[package]\n");
    await writeFile(join(dir, "src", "nodes", "add.rs"), "fn add() {}\n");
    await writeFile(join(dir, "target", "release", "runtime"), "binary");
    const at = (seconds: number) => new Date(seconds * 1_000);
    await utimes(join(dir, "Cargo.toml"), at(1_000), at(1_000));
    await utimes(join(dir, "src", "nodes", "add.rs"), at(2_000), at(2_000));
    // Build output is newer than every source, as after a build; it must not count.
    await utimes(join(dir, "target", "release", "runtime"), at(9_000), at(9_000));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gives the newest modification time of the package's sources, nested ones included, build output aside", async () => {
    expect(await newestSource(dir)).toBe(2_000_000);
  });
});
