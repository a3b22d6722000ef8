import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileWrite } from "./file-write.js";
import { outputsOf, runNode, runtimeFor } from "./testing/run-node.js";

describe("core.file-write", () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "conductor-file-write-"));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
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

  it("is idempotent", () => {
    expect(runtimeFor(fileWrite).nodeTypes[0]!.flags?.idempotent).toBe(true);
  });
});
