/**
 * What runtimes print reaches the host's log whole: the Node sidecar's output written just before it stops arrives
 * before the host considers it stopped.
 */
import { fileURLToPath } from "node:url";
import { createConductor } from "@conductor/host";
import { describe, expect, it } from "vitest";

const noisyNodes = fileURLToPath(new URL("../fixtures/nodes/noisy-nodes.ts", import.meta.url));

describe("runtime output", () => {
  it("the Node sidecar's stderr lines all arrive, even when it stops right after writing them", async () => {
    const lines: string[] = [];
    const conductor = await createConductor({
      builtinNodes: false,
      onRuntimeStderr: (runtime, line) => {
        if (runtime === "node") lines.push(line);
      },
      project: {
        dir: process.cwd(),
        blueprints: [],
        nodes: [],
        runtimes: { node: { kind: "node", modules: [noisyNodes] } },
      },
    });
    try {
      const result = await conductor.run({
        conductor: "blueprint/v1",
        nodes: { loud: { type: "test.print-lines", config: { count: 10_000 } } },
        outputs: { printed: "loud.printed" },
      });
      expect(result.outputs.printed).toBe(10_000);
    } finally {
      await conductor.close();
    }
    const printed = lines.filter((line) => line.startsWith("line "));
    expect(printed.length).toBe(10_000);
    expect(printed.at(-1)).toBe("line 9999 of 10000");
  });
});
