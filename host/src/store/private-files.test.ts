import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensurePrivateDirectory, ensurePrivateFile, tightenMode } from "./private-files.js";

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe("private files", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-private-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates directories and their missing parents with mode 0700", async () => {
    ensurePrivateDirectory(join(dir, "a", "b"));
    expect(await modeOf(join(dir, "a"))).toBe(0o700);
    expect(await modeOf(join(dir, "a", "b"))).toBe(0o700);
  });

  it("creates files with mode 0600 and keeps what an existing one holds", async () => {
    ensurePrivateFile(join(dir, "new"));
    expect(await modeOf(join(dir, "new"))).toBe(0o600);
    await writeFile(join(dir, "old"), "kept");
    await chmod(join(dir, "old"), 0o644);
    ensurePrivateFile(join(dir, "old"));
    expect(await modeOf(join(dir, "old"))).toBe(0o600);
    expect((await stat(join(dir, "old"))).size).toBe(4);
  });

  it("tightens only what others may read, and says whether it changed anything", async () => {
    await writeFile(join(dir, "file"), "");
    await chmod(join(dir, "file"), 0o640);
    expect(tightenMode(join(dir, "file"), 0o600)).toBe(true);
    expect(await modeOf(join(dir, "file"))).toBe(0o600);
    expect(tightenMode(join(dir, "file"), 0o600)).toBe(false);
    expect(tightenMode(join(dir, "missing"), 0o600)).toBe(false);
  });
});
