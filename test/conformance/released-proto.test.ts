/**
 * `buf breaking` runs against the committed image of the last released protos (proto/released/conductor-v1.binpb,
 * docs/protocol.md §6), so a break is caught whatever the history: a change that breaks the ABI in one commit and
 * is followed by another passes a check against the previous commit, not this one.
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const buf = repo("node_modules/.bin/buf");
const image = repo("proto/released/conductor-v1.binpb");

describe("buf breaking against the released image", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "released-proto-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Copies proto/ and buf.yaml into a directory of its own, applies `edit` to runtime.proto, runs the check. */
  async function breakingAfter(name: string, edit: (text: string) => string) {
    const copy = join(dir, name);
    await cp(repo("proto"), join(copy, "proto"), { recursive: true });
    await cp(repo("buf.yaml"), join(copy, "buf.yaml"));
    const file = join(copy, "proto/conductor/runtime/v1/runtime.proto");
    const original = await readFile(file, "utf8");
    const edited = edit(original);
    expect(edited, "the edit applies to runtime.proto").not.toBe(original);
    await writeFile(file, edited);
    return run(buf, ["breaking", copy, "--against", image]).then(
      () => ({ ok: true, output: "" }),
      (error: { stdout?: string; stderr?: string }) => ({
        ok: false,
        output: `${error.stdout ?? ""}${error.stderr ?? ""}`,
      }),
    );
  }

  it("passes the protos as they are", async () => {
    await expect(run(buf, ["breaking", repo("."), "--against", image])).resolves.toBeDefined();
  });

  it("passes an addition: a new message", async () => {
    const result = await breakingAfter(
      "added",
      (text) => `${text}\nmessage KitProbe {\n  string note = 1;\n}\n`,
    );
    expect(result).toEqual({ ok: true, output: "" });
  });

  it("fails a deleted field, naming it", async () => {
    const result = await breakingAfter("deleted", (text) => text.replace("  uint32 grace_ms = 3;\n", ""));
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(
      /Previously present field "3" with name "grace_ms" on message "Cancel" was deleted/,
    );
  });

  it("fails a field whose type changed", async () => {
    const result = await breakingAfter("retyped", (text) =>
      text.replace("  uint32 grace_ms = 3;\n", "  uint64 grace_ms = 3;\n"),
    );
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/grace_ms.*type/i);
  });
});
