import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createBlobDirectory } from "./blob-directory.js";

const machine = hostname().replace(/[^A-Za-z0-9.]/g, "_");

/** Starts a process, SIGKILLs it and waits until it is gone: its pid is one of a host that died. */
async function pidOfKilledProcess(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await new Promise((resolve) => child.once("spawn", resolve));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
  return child.pid!;
}

describe("createBlobDirectory()", () => {
  let project: string;
  beforeEach(async () => {
    project = await mkdtemp(join(tmpdir(), "conductor-blob-dir-"));
  });
  afterEach(async () => {
    await rm(project, { recursive: true, force: true });
  });

  it("creates a private directory under the project's .conductor/tmp, named by machine and pid, and removes it", async () => {
    const blobs = await createBlobDirectory({ projectDir: project });
    expect(
      blobs.path.startsWith(join(project, ".conductor", "tmp", `blobs-${machine}-${process.pid}-`)),
    ).toBe(true);
    expect((await stat(blobs.path)).mode & 0o777).toBe(0o700);
    expect((await stat(join(project, ".conductor", "tmp"))).mode & 0o777).toBe(0o700);
    await writeFile(join(blobs.path, "blob"), "x".repeat(1000));
    await blobs.remove();
    expect(await readdir(join(project, ".conductor", "tmp"))).toEqual([]);
  });

  it("removes what a killed host left, and keeps the directories of live hosts and of other machines", async () => {
    const parent = join(project, ".conductor", "tmp");
    const dead = join(parent, `blobs-${machine}-${await pidOfKilledProcess()}-abc123`);
    const live = join(parent, `blobs-${machine}-${process.ppid}-def456`);
    const elsewhere = join(parent, "blobs-other-machine-1-ghi789");
    const unrelated = join(parent, "notes");
    for (const path of [dead, live, elsewhere, unrelated]) await mkdir(path, { recursive: true });
    await writeFile(join(dead, "left-over-blob"), "x".repeat(1000));

    const blobs = await createBlobDirectory({ projectDir: project });
    const left = await readdir(parent);
    expect(left.sort()).toEqual(
      [live, elsewhere, unrelated, blobs.path].map((path) => path.slice(parent.length + 1)).sort(),
    );
    await blobs.remove();
  });

  it("falls back on the system's temporary directory when the project cannot hold one", async () => {
    const notADirectory = join(project, "file");
    await writeFile(notADirectory, "");
    const blobs = await createBlobDirectory({ projectDir: notADirectory });
    expect(blobs.path.startsWith(join(tmpdir(), `conductor-blobs-${machine}-${process.pid}-`))).toBe(true);
    await blobs.remove();
    await expect(stat(blobs.path)).rejects.toThrow(/ENOENT/);
  });
});
