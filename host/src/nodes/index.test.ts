import { tmpdir } from "node:os";
import { createNodeRuntime } from "@conductor/sdk";
import { describe, expect, it } from "vitest";
import { projectAccess } from "../project/project-access.js";
import { createCoreNodes } from "./index.js";

describe("createCoreNodes()", () => {
  const coreNodes = createCoreNodes({
    access: projectAccess({ dir: tmpdir(), blueprints: [], nodes: [], runtimes: {} }),
  });
  const runtime = createNodeRuntime({ nodes: coreNodes });

  it("holds every core node type once", () => {
    expect(coreNodes.map((node) => node.type).sort()).toEqual([
      "core.add",
      "core.constant",
      "core.csv-parse",
      "core.delay",
      "core.file-read",
      "core.file-write",
      "core.http-request",
      "core.if",
      "core.json-transform",
      "core.passthrough",
      "core.shell",
      "core.template",
    ]);
  });

  it("describes each node type with a title, a description and JSON Schemas", () => {
    for (const type of runtime.nodeTypes) {
      expect(type.title, type.type).not.toBe(type.type);
      expect(type.description, type.type).not.toBe("");
      expect(JSON.parse(type.configSchema), type.type).toMatchObject({ type: "object" });
      for (const port of [...type.inputs, ...type.outputs])
        expect(() => JSON.parse(port.schema)).not.toThrow();
    }
  });

  it("accepts the defaults of every node type whose config needs nothing", () => {
    const withoutRequiredConfig = [
      "core.http-request",
      "core.file-read",
      "core.file-write",
      "core.csv-parse",
    ];
    for (const type of withoutRequiredConfig) expect(runtime.validateConfig(type, {}), type).toEqual([]);
  });
});
