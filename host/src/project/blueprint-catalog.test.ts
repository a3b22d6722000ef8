import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listBlueprints } from "./blueprint-catalog.js";

const blueprint = (id: string) =>
  `conductor: blueprint/v1\nid: ${id}\nnodes:\n  a: { type: core.constant, config: { value: 1 } }\n`;

describe("listBlueprints()", () => {
  let dir: string;
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.message);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "conductor-catalog-"));
    warnings.length = 0;
    process.on("warning", onWarning);
  });
  afterEach(async () => {
    process.off("warning", onWarning);
    await rm(dir, { recursive: true, force: true });
  });

  it("skips links that loop back to a parent folder, listing each blueprint once and warning about them", async () => {
    await mkdir(join(dir, "flows", "inner"), { recursive: true });
    await writeFile(join(dir, "flows", "a.blueprint.yaml"), blueprint("a"));
    await writeFile(join(dir, "flows", "inner", "b.blueprint.yaml"), blueprint("b"));
    await symlink("..", join(dir, "flows", "up"));
    await symlink("../..", join(dir, "flows", "inner", "up-two"));
    const entries = await listBlueprints({ dir, blueprints: ["."], nodes: [], runtimes: {} });
    expect(entries.map((entry) => [entry.id, entry.path])).toEqual([
      ["a", join("flows", "a.blueprint.yaml")],
      ["b", join("flows", "inner", "b.blueprint.yaml")],
    ]);
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).toEqual([
      `blueprint folder ${join("flows", "inner", "up-two")} leads to ${dir}, which is listed already; skipped it`,
      `blueprint folder ${join("flows", "up")} leads to ${dir}, which is listed already; skipped it`,
    ]);
  });

  it("lists a folder reached through a link that does not loop", async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), "conductor-catalog-elsewhere-"));
    try {
      await writeFile(join(elsewhere, "shared.blueprint.yaml"), blueprint("shared"));
      await symlink(elsewhere, join(dir, "shared"));
      const entries = await listBlueprints({ dir, blueprints: ["."], nodes: [], runtimes: {} });
      expect(entries.map((entry) => entry.path)).toEqual([join("shared", "shared.blueprint.yaml")]);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
