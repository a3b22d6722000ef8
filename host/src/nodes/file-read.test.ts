import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileRead } from "./file-read.js";
import { outputsOf, runNode } from "./testing/run-node.js";

describe("core.file-read", () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "conductor-file-read-"));
    await writeFile(join(directory, "greeting.txt"), "héllo\nwörld\n");
    await writeFile(join(directory, "image.bin"), new Uint8Array([0xff, 0xd8, 0x00, 0x7f]));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
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
});
