import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NodeDefinition } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFileAccess } from "./file-access.js";
import { createFileRead } from "./file-read.js";
import { outputsOf, runNode } from "./testing/run-node.js";

describe("createFileRead()", () => {
  /** The project: files may be read here, except under its .conductor/. */
  let directory: string;
  /** A directory beside the project, which nodes may not read. */
  let outside: string;
  let fileRead: NodeDefinition;

  beforeAll(async () => {
    directory = await realpath(await mkdtemp(join(tmpdir(), "conductor-file-read-")));
    outside = await realpath(await mkdtemp(join(tmpdir(), "conductor-file-read-outside-")));
    await writeFile(join(directory, "greeting.txt"), "héllo\nwörld\n");
    await writeFile(join(directory, "image.bin"), new Uint8Array([0xff, 0xd8, 0x00, 0x7f]));
    await mkdir(join(directory, ".conductor"));
    await writeFile(join(directory, ".conductor", "api-token"), "secret");
    await writeFile(join(outside, "secret.txt"), "not for nodes");
    await symlink(join(outside, "secret.txt"), join(directory, "link-out.txt"));
    await symlink(outside, join(directory, "dir-out"));
    await symlink(join(directory, "greeting.txt"), join(directory, "link-in.txt"));
    fileRead = createFileRead(
      createFileAccess({ directories: [directory], protectedPaths: [join(directory, ".conductor")] }),
    );
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it("reads a file as UTF-8 text, with its size in bytes", async () => {
    const run = await runNode(fileRead, { inputs: { path: join(directory, "greeting.txt") } });
    expect(outputsOf(run)).toEqual({ content: "héllo\nwörld\n", size: 14 });
  });

  it("reads a file as bytes", async () => {
    const run = await runNode(fileRead, {
      config: { encoding: "bytes" },
      inputs: { path: join(directory, "image.bin") },
    });
    const { content, size } = outputsOf(run);
    expect(content).toBeInstanceOf(Uint8Array);
    expect([...(content as Uint8Array)]).toEqual([0xff, 0xd8, 0x00, 0x7f]);
    expect(size).toBe(4);
  });

  it("fails without retry on a missing file, naming the path", async () => {
    const path = join(directory, "missing.txt");
    const run = await runNode(fileRead, { inputs: { path } });
    expect(run.failure).toMatchObject({
      type: "file.not-found",
      retryable: false,
      message: `cannot read "${path}": no such file or directory`,
      details: { path, code: "ENOENT" },
    });
  });

  it("fails on text that is not UTF-8, suggesting bytes", async () => {
    const path = join(directory, "image.bin");
    const run = await runNode(fileRead, { inputs: { path } });
    expect(run.failure).toMatchObject({
      type: "file.encoding",
      retryable: false,
      message: `cannot read "${path}" as text: it is not valid UTF-8; set encoding "bytes" to read it as bytes`,
    });
  });

  it("fails on a directory", async () => {
    const run = await runNode(fileRead, { inputs: { path: directory } });
    expect(run.failure).toMatchObject({ type: "file.is-directory", retryable: false });
  });

  it("reads through a link that stays inside the allowed directories", async () => {
    const run = await runNode(fileRead, { inputs: { path: join(directory, "link-in.txt") } });
    expect(outputsOf(run).content).toBe("héllo\nwörld\n");
  });

  it("refuses a file outside the allowed directories, naming them and the setting that widens them", async () => {
    const path = join(outside, "secret.txt");
    const run = await runNode(fileRead, { inputs: { path } });
    expect(run.failure).toMatchObject({
      type: "file.not-allowed",
      retryable: false,
      message: `cannot read "${path}": it is outside the directories this project lets nodes use (${directory}); to allow it, list its directory under access.files in conductor.yaml`,
    });
    expect(run.outputs).toBeUndefined();
  });

  it("refuses a path that climbs out with .. and one that does not exist outside, before looking for it", async () => {
    for (const path of [join(directory, "..", "..", "etc", "passwd"), join(outside, "missing.txt")]) {
      const run = await runNode(fileRead, { inputs: { path } });
      expect(run.failure?.type, path).toBe("file.not-allowed");
    }
  });

  it("refuses links inside the directories that lead outside, to a file or through a directory", async () => {
    const run = await runNode(fileRead, { inputs: { path: join(directory, "link-out.txt") } });
    expect(run.failure).toMatchObject({
      type: "file.not-allowed",
      message: expect.stringContaining(
        `cannot read "${join(directory, "link-out.txt")}" (which leads to "${join(outside, "secret.txt")}"): it is outside`,
      ),
    });
    const through = await runNode(fileRead, { inputs: { path: join(directory, "dir-out", "secret.txt") } });
    expect(through.failure?.type).toBe("file.not-allowed");
  });

  it("refuses Conductor's own files inside the project", async () => {
    const path = join(directory, ".conductor", "api-token");
    const run = await runNode(fileRead, { inputs: { path } });
    expect(run.failure).toMatchObject({
      type: "file.not-allowed",
      message: `cannot read "${path}": Conductor's own files (.conductor/ and conductor.yaml) are never open to nodes`,
    });
  });
});
