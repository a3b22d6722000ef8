import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ensurePrivateDirectory,
  ensurePrivateFile,
  tightenMode,
  writePrivateFileWhole,
} from "./private-files.js";

/** The paths written by writeFileSync: a file written in place can be read empty or half written. */
const written = vi.hoisted(() => [] as string[]);

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const writeFileSync: typeof fs.writeFileSync = (file, data, options) => {
    written.push(String(file));
    fs.writeFileSync(file, data, options);
  };
  return { ...fs, writeFileSync, default: { ...fs, writeFileSync } };
});

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

  it("makes a file appear whole, never writing it in place; an exclusive write keeps the file that exists", async () => {
    const file = join(dir, "token");
    written.length = 0;
    expect(writePrivateFileWhole(file, "first\n", { exclusive: true })).toBe(true);
    expect(writePrivateFileWhole(file, "second\n", { exclusive: true })).toBe(false);
    expect(await readFile(file, "utf8")).toBe("first\n");
    expect(writePrivateFileWhole(file, "third\n", { exclusive: false })).toBe(true);
    expect(await readFile(file, "utf8")).toBe("third\n");
    expect(await modeOf(file)).toBe(0o600);
    expect(written).toHaveLength(3);
    expect(written).not.toContain(file);
    expect(await readdir(dir)).toEqual(["token"]);
  });
});
