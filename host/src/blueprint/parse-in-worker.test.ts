import { describe, expect, it } from "vitest";
import { ConductorError } from "../errors.js";
import { parseBlueprintInWorker } from "./parse-in-worker.js";

describe("parseBlueprintInWorker()", () => {
  const text = `conductor: blueprint/v1\nnodes:\n${Array.from({ length: 9_000 }, (_, i) => `  n${i}: { type: t, config: { a: [1, 2, 3, { b: c }] } }`).join("\n")}\n`;

  it("turns a parse that needs more than the worker's heap into an error naming the bound, and the host goes on", async () => {
    const error = await parseBlueprintInWorker(text, "heavy.yaml", { maxHeapMb: 8 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConductorError);
    expect((error as ConductorError).code).toBe("blueprint_unreadable");
    expect((error as ConductorError).message).toBe(
      "blueprint heavy.yaml: parsing the blueprint needed more than 8 MiB; make it smaller or simpler",
    );
    // The same text parses with the default bound: only the worker ran out, not the host.
    const loaded = await parseBlueprintInWorker(text, "heavy.yaml");
    expect(Object.keys(loaded.document.nodes)).toHaveLength(9_000);
  });

  it("gives each of several parses started at once its own answer, past the two that run at a time", async () => {
    const small = (id: string) => `conductor: blueprint/v1\nid: ${id}\nnodes: {}\n`;
    const ids = ["a", "b", "c", "d", "e"];
    const loaded = await Promise.all(ids.map((id) => parseBlueprintInWorker(small(id), `${id}.yaml`)));
    expect(loaded.map((blueprint) => blueprint.id)).toEqual(ids);
  });
});
