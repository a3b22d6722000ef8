import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EncodedValue } from "@conductor/sdk/protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createValueUploads, UPLOAD_EXPIRY_MS } from "./value-uploads.js";

async function* chunksOf(text: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(text);
}

/** Sets a file's modification time to `ms` since the epoch. */
const age = (path: string, ms: number) => utimes(path, new Date(ms), new Date(ms));

describe("createValueUploads()", () => {
  let dir: string;
  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), "conductor-uploads-")), "uploads");
  });
  afterEach(async () => {
    await rm(join(dir, ".."), { recursive: true, force: true });
  });

  it("removes uploads and partial uploads older than the expiry, keeps newer ones and other files", async () => {
    let clock = Date.now();
    const uploads = createValueUploads({ dir, now: () => clock });
    const old = await uploads.store("json", chunksOf('"old"'));
    const fresh = await uploads.store("bytes", chunksOf("fresh"));
    await writeFile(join(dir, ".upload-0123456789abcdef"), "partial");
    await writeFile(join(dir, "notes.txt"), "not an upload");
    const longAgo = clock - UPLOAD_EXPIRY_MS - 60_000;
    await age(join(dir, `${old.sha256}.json`), longAgo);
    await age(join(dir, ".upload-0123456789abcdef"), longAgo);
    await age(join(dir, "notes.txt"), longAgo);

    expect((await uploads.sweep()).sort()).toEqual([".upload-0123456789abcdef", `${old.sha256}.json`]);
    expect((await readdir(dir)).sort()).toEqual([`${fresh.sha256}.bytes`, "notes.txt"].sort());
    await expect(uploads.resolveInputs({ a: { $ref: old.$ref } })).rejects.toThrow(
      `input "a" names "${old.$ref}", which is not an uploaded value`,
    );

    // A day later the fresh one has expired too.
    clock += UPLOAD_EXPIRY_MS + 60_000;
    expect(await uploads.sweep()).toEqual([`${fresh.sha256}.bytes`]);
  });

  it("keeps an upload a start used for another expiry period from that use", async () => {
    let clock = Date.now();
    const uploads = createValueUploads({ dir, now: () => clock });
    const handle = await uploads.store("bytes", chunksOf("used"));
    clock += UPLOAD_EXPIRY_MS - 1_000;
    const resolved = await uploads.resolveInputs({ data: { $ref: handle.$ref } });
    expect(resolved.data).toBeInstanceOf(EncodedValue);

    clock += 2_000;
    expect(await uploads.sweep()).toEqual([]);
    clock += UPLOAD_EXPIRY_MS;
    expect(await uploads.sweep()).toEqual([`${handle.sha256}.bytes`]);
  });

  it("removes what expired while no server ran when it is created", async () => {
    const first = createValueUploads({ dir });
    const handle = await first.store("json", chunksOf("1"));
    await age(join(dir, `${handle.sha256}.json`), Date.now() - UPLOAD_EXPIRY_MS - 60_000);
    const second = createValueUploads({ dir });
    // sweep() waits for the one the creation started; that one removed the file, so this one finds nothing.
    expect(await second.sweep()).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });
});
