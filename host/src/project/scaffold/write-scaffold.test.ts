import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ScaffoldFile, writeScaffold } from "./write-scaffold.js";

describe("writeScaffold()", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "scaffold-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const files: ScaffoldFile[] = [
    { path: "conductor.yaml", mode: "create", content: "conductor: project/v1\n" },
    { path: "nodes/a.ts", mode: "create", content: "export {};\n" },
    { path: "tsconfig.json", mode: "keep", content: "{}\n" },
    { path: ".gitignore", mode: "lines", content: "node_modules/\n.conductor/" },
  ];

  it("creates the files and their folders, and reports each", async () => {
    const report = await writeScaffold(dir, files);
    expect(report).toEqual({
      dir,
      created: ["conductor.yaml", "nodes/a.ts", "tsconfig.json", ".gitignore"],
      overwritten: [],
      updated: [],
      kept: [],
    });
    expect(await readFile(join(dir, "nodes/a.ts"), "utf8")).toBe("export {};\n");
    expect(await readFile(join(dir, ".gitignore"), "utf8")).toBe("node_modules/\n.conductor/");
  });

  it("writes nothing when one of its own files exists, and names every such file", async () => {
    await writeFile(join(dir, "conductor.yaml"), "mine\n");
    await mkdir(join(dir, "nodes"));
    await writeFile(join(dir, "nodes/a.ts"), "mine\n");
    await expect(writeScaffold(dir, files)).rejects.toMatchObject({
      code: "files_exist",
      message: `conductor.yaml, nodes/a.ts already exist in ${dir}; nothing was written; pass --force to overwrite them`,
    });
    expect(await readFile(join(dir, "conductor.yaml"), "utf8")).toBe("mine\n");
    expect(existsSync(join(dir, "tsconfig.json"))).toBe(false);
    expect(existsSync(join(dir, ".gitignore"))).toBe(false);
  });

  it("overwrites its own files with force, keeps the user's, appends only missing lines", async () => {
    await writeFile(join(dir, "conductor.yaml"), "mine\n");
    await writeFile(join(dir, "tsconfig.json"), '{ "mine": true }\n');
    await writeFile(join(dir, ".gitignore"), "dist/\nnode_modules/");
    const report = await writeScaffold(dir, files, { force: true });
    expect(report).toMatchObject({
      created: ["nodes/a.ts"],
      overwritten: ["conductor.yaml"],
      updated: [".gitignore"],
      kept: ["tsconfig.json"],
    });
    expect(await readFile(join(dir, "conductor.yaml"), "utf8")).toBe("conductor: project/v1\n");
    expect(await readFile(join(dir, "tsconfig.json"), "utf8")).toBe('{ "mine": true }\n');
    expect(await readFile(join(dir, ".gitignore"), "utf8")).toBe("dist/\nnode_modules/\n.conductor/\n");
  });

  it("leaves a list file alone when it has every line already", async () => {
    await writeFile(join(dir, ".gitignore"), ".conductor/\nnode_modules/\n");
    const report = await writeScaffold(dir, [files[3]!]);
    expect(report.kept).toEqual([".gitignore"]);
    expect(await readFile(join(dir, ".gitignore"), "utf8")).toBe(".conductor/\nnode_modules/\n");
  });
});
