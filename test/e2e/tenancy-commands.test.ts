/**
 * `conductor keys`, `conductor secrets` and `conductor audit` as a user calls them: a key printed once and usable,
 * revoked at once; a secret read from stdin, never printed, used by `conductor run`; the audit trail of it all,
 * verified, and found broken once an entry is edited.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CommandResult, runConductor } from "../fixtures/conductor-command.js";

function conductor(args: string[], cwd: string, stdin = ""): Promise<CommandResult> {
  const { CONDUCTOR_SECRET_KEY: _ignored, ...env } = process.env;
  return runConductor(args, { cwd, env: { ...env, NO_COLOR: "1" }, stdin });
}

const CLEAR = "tok-5b1d8e0c-clear-value-from-stdin";

describe("conductor keys, secrets and audit", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tenancy-commands-"));
    await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\nblueprints: [.]\n");
    await writeFile(
      join(dir, "greet.blueprint.yaml"),
      `conductor: blueprint/v1
id: greet
outputs:
  text: render.text
nodes:
  render: { type: core.template, config: { template: { $secret: greeting } }, inputs: { data: { value: {} } } }
`,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("makes, lists and revokes keys, and refuses bad roles and namespaces", async () => {
    const created = await conductor(["keys", "create", "--role", "viewer", "--namespace", "team-a"], dir);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^cdk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/);
    expect(created.stderr).toContain('viewer of namespace "team-a"');
    const id = created.stdout.slice(4, 20);
    const list = await conductor(["keys", "list"], dir);
    expect(list.stdout).toContain(id);
    expect(list.stdout).not.toContain(created.stdout.trim().slice(21));
    expect(await conductor(["keys", "revoke", id], dir)).toMatchObject({
      code: 0,
      stdout: `revoked key ${id}\n`,
    });
    expect((await conductor(["keys", "list"], dir)).stdout).toMatch(new RegExp(`${id}.*revoked`));
    const badRole = await conductor(["keys", "create", "--role", "root"], dir);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain("--role must be one of admin, editor, operator, viewer, worker");
    const badNamespace = await conductor(
      ["keys", "create", "--role", "viewer", "--namespace", "../etc"],
      dir,
    );
    expect(badNamespace.code).toBe(2);
    expect(badNamespace.stderr).toContain("a namespace is 1 to 63 lowercase letters");
  });

  it("keeps a secret encrypted, never prints it, and gives it to the node that names it", async () => {
    const set = await conductor(["secrets", "set", "greeting"], dir, `${CLEAR}\n`);
    expect(set).toMatchObject({ code: 0, stdout: 'secret "greeting" of namespace "default" set (key k1)\n' });
    const list = await conductor(["secrets", "list"], dir);
    expect(list.stdout).toMatch(/default\s+greeting\s+key k1/);
    const run = await conductor(["run", "greet.blueprint.yaml", "--json"], dir);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).outputs).toEqual({ text: "[secret greeting]" });
    const inspect = await conductor(["inspect", JSON.parse(run.stdout).executionId, "--json"], dir);
    expect(inspect.code).toBe(0);
    for (const output of [set, list, run, inspect]) {
      expect(output.stdout + output.stderr).not.toContain(CLEAR);
    }
    for (const file of ["tenancy.db", "journal.db"]) {
      expect((await readFile(join(dir, ".conductor", file))).includes(CLEAR), file).toBe(false);
    }
    const rotated = await conductor(["secrets", "rotate-key"], dir);
    expect(rotated).toMatchObject({ code: 0, stdout: "new key k2; 1 secret re-encrypted with it\n" });
    const again = await conductor(["run", "greet.blueprint.yaml", "--json"], dir);
    expect(JSON.parse(again.stdout).outputs).toEqual({ text: "[secret greeting]" });
    const missing = await conductor(["secrets", "set", "empty"], dir, "");
    expect(missing.code).toBe(2);
  });

  it("lists the audit trail, verifies it, and finds an edited entry", async () => {
    const list = await conductor(["audit", "--json"], dir);
    const entries = JSON.parse(list.stdout) as { action: string; actor: string; address: string }[];
    expect(entries.map((entry) => entry.action)).toEqual([
      "keys.create",
      "keys.revoke",
      "secrets.set",
      "secrets.rotate-key",
    ]);
    expect(entries.every((entry) => entry.actor.startsWith("cli") && entry.address === "local")).toBe(true);
    const verify = await conductor(["audit", "verify"], dir);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^audit trail intact: 4 entries, head [0-9a-f]{64}\n$/);
    const db = new DatabaseSync(join(dir, ".conductor", "tenancy.db"));
    try {
      db.exec("DROP TRIGGER audit_no_update");
      db.exec("UPDATE audit SET actor = 'someone-else' WHERE seq = 2");
    } finally {
      db.close();
    }
    const broken = await conductor(["audit", "verify"], dir);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe(
      "audit trail BROKEN at entry 2: its hash does not match its content: it was edited (1 entries before it are intact)\n",
    );
  });
});
