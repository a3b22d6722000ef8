import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { auditHash, openTenancyStore, TENANCY_FILE, type TenancyStore } from "./tenancy-store.js";

describe("the tenancy store", () => {
  let dir: string;
  let store: TenancyStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-tenancy-"));
    store = await openTenancyStore(dir);
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("is a file only its owner can read", async () => {
    expect((await stat(join(dir, TENANCY_FILE))).mode & 0o777).toBe(0o600);
  });

  it("makes keys that are shown once and kept only as a hash, scoped to a namespace and a role", async () => {
    const created = store.createKey({ name: "ci", namespace: "team-a", role: "operator" });
    expect(created.key).toMatch(/^cdk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(store.checkKey(created.key)).toMatchObject({
      id: created.id,
      namespace: "team-a",
      role: "operator",
    });
    expect(JSON.stringify(store.listKeys())).not.toContain(created.key.slice(22));
    // The file holds the hash, not the key.
    const db = new DatabaseSync(join(dir, TENANCY_FILE), { readOnly: true });
    const row = db.prepare("SELECT * FROM api_keys").get() as Record<string, unknown>;
    db.close();
    expect(JSON.stringify(row)).not.toContain(created.key.slice(22));
  });

  it("refuses forged, expired and revoked keys, and says which", () => {
    const created = store.createKey({ name: "ci", namespace: "default", role: "viewer" });
    const forged = `${created.key.slice(0, 22)}${"A".repeat(43)}`;
    expect(store.checkKey(forged)).toBe("unknown");
    expect(store.checkKey(`cdk_0000000000000000_${"B".repeat(43)}`)).toBe("unknown");
    expect(store.checkKey("not a key")).toBe("unknown");
    const expiring = store.createKey({
      name: "short",
      namespace: "default",
      role: "viewer",
      expiresAt: 1_000,
    });
    expect(store.checkKey(expiring.key, 999)).toMatchObject({ id: expiring.id });
    expect(store.checkKey(expiring.key, 1_000)).toBe("expired");
    expect(store.revokeKey(created.id)).toBe(true);
    expect(store.checkKey(created.key)).toBe("revoked");
    expect(store.revokeKey("0123456789abcdef")).toBe(false);
  });

  it("refuses namespace names that could be path tricks or invisible differences", () => {
    for (const namespace of ["../default", "a/b", "", "Team", "a".repeat(64), "x\u200b"]) {
      expect(() => store.createKey({ name: "k", namespace, role: "viewer" }), namespace).toThrow(
        /a namespace is 1 to 63 lowercase letters/,
      );
    }
  });

  it("knows the namespace of executions (and of their sub-blueprints' children), default for the rest", () => {
    store.setExecutionNamespace("e1", "team-a", 1);
    store.setExecutionNamespace("e2", "team-a", 2);
    expect(store.namespaceOfExecution("e1")).toBe("team-a");
    expect(store.namespaceOfExecution("e1/child-node")).toBe("team-a");
    expect(store.namespaceOfExecution("other")).toBe("default");
    expect(store.executionsIn("team-a", 10)).toEqual(["e2", "e1"]);
    store.addUpload("ab".repeat(32), "team-a");
    expect(store.hasUpload("ab".repeat(32), "team-a")).toBe(true);
    expect(store.hasUpload("ab".repeat(32), "default")).toBe(false);
  });

  describe("the audit trail", () => {
    const entry = (action: string) => ({
      actor: "token",
      namespace: "default",
      action,
      target: "execution:x",
      address: "127.0.0.1",
      outcome: "ok",
      detail: "",
    });

    it("chains its entries and verifies them", () => {
      for (const action of ["StartExecution", "CancelExecution", "UploadValue"]) store.audit(entry(action));
      const entries = store.listAudit();
      expect(entries.map((e) => [e.seq, e.action])).toEqual([
        [1, "StartExecution"],
        [2, "CancelExecution"],
        [3, "UploadValue"],
      ]);
      expect(entries[1]!.prevHash).toBe(entries[0]!.hash);
      expect(store.verifyAudit()).toEqual({ ok: true, entries: 3, head: entries[2]!.hash });
    });

    it("cannot be changed through SQL while its triggers are there", () => {
      store.audit(entry("StartExecution"));
      const db = new DatabaseSync(join(dir, TENANCY_FILE));
      try {
        expect(() => db.exec("UPDATE audit SET actor = 'someone'")).toThrow("the audit trail is append-only");
        expect(() => db.exec("DELETE FROM audit")).toThrow("the audit trail is append-only");
      } finally {
        db.close();
      }
    });

    it("detects an edited entry and a deleted one, even when the triggers were dropped", () => {
      for (const action of ["A", "B", "C", "D"]) store.audit(entry(action));
      const db = new DatabaseSync(join(dir, TENANCY_FILE));
      try {
        db.exec("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;");
        db.exec("UPDATE audit SET outcome = 'permission_denied' WHERE seq = 2");
        expect(store.verifyAudit()).toMatchObject({
          ok: false,
          entries: 1,
          broken: { seq: 2, reason: "its hash does not match its content: it was edited" },
        });
        // Giving the edited row a matching hash does not help: the next entry's link gives it away.
        const edited = store.listAudit().find((e) => e.seq === 2)!;
        db.prepare("UPDATE audit SET hash = ? WHERE seq = 2").run(auditHash(edited));
        expect(store.verifyAudit()).toMatchObject({
          ok: false,
          broken: {
            seq: 3,
            reason: "its link to the entry before does not match: an entry before it was changed or removed",
          },
        });
        const original = store.listAudit().find((e) => e.seq === 2)!;
        db.prepare("UPDATE audit SET outcome = 'ok', hash = ? WHERE seq = 2").run(
          auditHash({ ...original, outcome: "ok" }),
        );
        expect(store.verifyAudit().ok).toBe(true);
        db.exec("DELETE FROM audit WHERE seq = 3");
        expect(store.verifyAudit()).toMatchObject({
          ok: false,
          entries: 2,
          broken: { seq: 4, reason: "entry 3 is missing (the next one is 4): rows were deleted" },
        });
      } finally {
        db.close();
      }
    });
  });
});
