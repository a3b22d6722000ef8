import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ensureProjectToken, readProjectToken } from "./project-token.js";

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe("ensureProjectToken()", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-token-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("makes a random token on first use, in a file only its owner can read, and gives the same one after", async () => {
    const first = await ensureProjectToken(dir);
    expect(first.created).toBe(true);
    expect(first.file).toBe(join(dir, ".conductor", "api-token"));
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await modeOf(first.file)).toBe(0o600);
    expect(await modeOf(join(dir, ".conductor"))).toBe(0o700);
    const again = await ensureProjectToken(dir);
    expect(again).toEqual({ ...first, created: false, wasReadableByOthers: false });
    expect(await readProjectToken(dir)).toBe(first.token);
    const other = await mkdtemp(join(tmpdir(), "conductor-token-"));
    try {
      expect((await ensureProjectToken(other)).token).not.toBe(first.token);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  it("keeps one token when servers start together", async () => {
    const tokens = await Promise.all([1, 2, 3, 4].map(() => ensureProjectToken(dir)));
    expect(new Set(tokens.map((t) => t.token)).size).toBe(1);
    expect(tokens.filter((t) => t.created)).toHaveLength(1);
    expect((await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim()).toBe(tokens[0]!.token);
  });

  it("makes a token file others could read private again, and says so", async () => {
    await mkdir(join(dir, ".conductor"));
    await writeFile(join(dir, ".conductor", "api-token"), "given-token\n");
    await chmod(join(dir, ".conductor", "api-token"), 0o644);
    const token = await ensureProjectToken(dir);
    expect(token).toMatchObject({ token: "given-token", created: false, wasReadableByOthers: true });
    expect(await modeOf(token.file)).toBe(0o600);
  });

  it("refuses an empty token file, saying how to get a new token", async () => {
    await mkdir(join(dir, ".conductor"));
    await writeFile(join(dir, ".conductor", "api-token"), "\n");
    await expect(ensureProjectToken(dir)).rejects.toThrow(
      `the API token file ${join(dir, ".conductor", "api-token")} is empty; delete it and a new token is made at the next start`,
    );
  });

  it("gives no token for a project that has none yet", async () => {
    expect(await readProjectToken(dir)).toBeUndefined();
  });
});
