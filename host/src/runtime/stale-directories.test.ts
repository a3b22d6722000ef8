import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isProcessAlive, sweepStaleDirectories } from "./stale-directories.js";

/** Starts a process, SIGKILLs it and waits until it is gone: its pid is one of a host that died. */
async function pidOfKilledProcess(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await new Promise((resolve) => child.once("spawn", resolve));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
  return child.pid!;
}

describe("sweepStaleDirectories()", () => {
  let parent: string;
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), "conductor-sweep-"));
  });
  afterEach(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it("removes only directories with the prefix whose process is gone, and says which", async () => {
    const deadPid = await pidOfKilledProcess();
    const dead = `cdr-abc-${deadPid}-x1`;
    const own = `cdr-abc-${process.pid}-x2`;
    const live = `cdr-abc-${process.ppid}-x3`;
    const otherMachine = `cdr-def-${deadPid}-x4`;
    const noPid = "cdr-abc-x5";
    const fileNotDirectory = `cdr-abc-${deadPid}-x6`;
    const linkToDirectory = `cdr-abc-${deadPid}-x7`;
    const outside = join(parent, "outside");
    for (const name of [dead, own, live, otherMachine, noPid]) await mkdir(join(parent, name));
    await writeFile(join(parent, dead, "python.sock"), "");
    await writeFile(join(parent, fileNotDirectory), "");
    await mkdir(outside);
    await writeFile(join(outside, "keep"), "kept");
    await symlink(outside, join(parent, linkToDirectory));

    expect(await sweepStaleDirectories(parent, "cdr-abc-")).toEqual([dead]);
    expect((await readdir(parent)).sort()).toEqual(
      [own, live, otherMachine, noPid, fileNotDirectory, linkToDirectory, "outside"].sort(),
    );
    // A link is not followed: what it leads to is untouched.
    expect(await readdir(outside)).toEqual(["keep"]);
  });

  it("finds nothing to do in a directory that does not exist", async () => {
    expect(await sweepStaleDirectories(join(parent, "missing"), "cdr-")).toEqual([]);
  });
});

describe("isProcessAlive()", () => {
  it("tells a live process from one that is gone", async () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(await pidOfKilledProcess())).toBe(false);
  });
});
