import { lstat, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NodeDefinition } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFileAccess } from "./file-access.js";
import { createFileWrite } from "./file-write.js";
import { outputsOf, runNode, runtimeFor } from "./testing/run-node.js";

describe("createFileWrite()", () => {
  /** The project: files may be written here, except its conductor.yaml and under its .conductor/. */
  let directory: string;
  /** A directory beside the project, which nodes may not write. */
  let outside: string;
  let fileWrite: NodeDefinition;

  beforeAll(async () => {
    directory = await realpath(await mkdtemp(join(tmpdir(), "conductor-file-write-")));
    outside = await realpath(await mkdtemp(join(tmpdir(), "conductor-file-write-outside-")));
    await mkdir(join(directory, ".conductor"));
    await writeFile(join(directory, "conductor.yaml"), "conductor: project/v1\n");
    await symlink(outside, join(directory, "dir-out"));
    await symlink(join(outside, "target.txt"), join(directory, "link-out.txt"));
    fileWrite = createFileWrite(
      createFileAccess({
        directories: [directory],
        protectedPaths: [join(directory, ".conductor"), join(directory, "conductor.yaml")],
      }),
    );
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it("writes text as UTF-8, creating missing directories", async () => {
    const path = join(directory, "reports", "2024", "summary.txt");
    const run = await runNode(fileWrite, { inputs: { path, content: "total: 18 €\n" } });
    expect(outputsOf(run)).toEqual({ path, bytes: 14 });
    expect(await readFile(path, "utf8")).toBe("total: 18 €\n");
  });

  it("writes bytes and replaces an existing file, leaving no temporary file", async () => {
    const path = join(directory, "data.bin");
    await runNode(fileWrite, { inputs: { path, content: "an older, longer content" } });
    const run = await runNode(fileWrite, { inputs: { path, content: new Uint8Array([1, 2, 3]) } });
    expect(outputsOf(run)).toEqual({ path, bytes: 3 });
    expect([...(await readFile(path))]).toEqual([1, 2, 3]);
    expect((await readdir(directory)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("fails without retry when the directory is missing and may not be created", async () => {
    const path = join(directory, "absent", "out.txt");
    const run = await runNode(fileWrite, {
      config: { createDirectories: false },
      inputs: { path, content: "x" },
    });
    expect(run.failure).toMatchObject({
      type: "file.not-found",
      retryable: false,
      message: `cannot write "${path}": no such file or directory`,
    });
  });

  it("fails on content that is neither text nor bytes, naming the port", async () => {
    const run = await runNode(fileWrite, { inputs: { path: join(directory, "x.txt"), content: 42 } });
    expect(run.failure?.message).toBe(
      'node "subject" (core.file-write): input "content": expected a string or bytes (a Uint8Array), found number 42',
    );
  });

  it("refuses a path outside the allowed directories, directly, with .., or through a linked directory, creating nothing", async () => {
    for (const path of [
      join(outside, "new", "out.txt"),
      join(directory, "..", `${outside.split("/").pop()}`, "out.txt"),
      join(directory, "dir-out", "out.txt"),
    ]) {
      const run = await runNode(fileWrite, { inputs: { path, content: "x" } });
      expect(run.failure, path).toMatchObject({
        type: "file.not-allowed",
        retryable: false,
        message: expect.stringMatching(
          /^cannot write "[^"]*"( \(which leads to "[^"]*"\))?: it is outside the directories this project lets nodes use \(.*\); to allow it, list its directory under access\.files in conductor\.yaml$/,
        ),
      });
    }
    expect(await readdir(outside)).toEqual([]);
  });

  it("replaces a link at the path with a file rather than writing through it", async () => {
    const path = join(directory, "link-out.txt");
    const run = await runNode(fileWrite, { inputs: { path, content: "inside" } });
    expect(outputsOf(run)).toEqual({ path, bytes: 6 });
    expect((await lstat(path)).isSymbolicLink()).toBe(false);
    expect(await readdir(outside)).toEqual([]);
  });

  it("refuses the project file and Conductor's own directory", async () => {
    for (const path of [join(directory, "conductor.yaml"), join(directory, ".conductor", "journal.db")]) {
      const run = await runNode(fileWrite, { inputs: { path, content: "access: { shell: any }" } });
      expect(run.failure, path).toMatchObject({
        type: "file.not-allowed",
        message: `cannot write "${path}": Conductor's own files (.conductor/ and conductor.yaml) are never open to nodes`,
      });
    }
    expect(await readFile(join(directory, "conductor.yaml"), "utf8")).toBe("conductor: project/v1\n");
    expect(await readdir(join(directory, ".conductor"))).toEqual([]);
  });

  it("is idempotent", () => {
    expect(runtimeFor(fileWrite).nodeTypes[0]!.flags?.idempotent).toBe(true);
  });
});
