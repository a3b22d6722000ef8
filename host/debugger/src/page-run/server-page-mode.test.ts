import { create } from "@bufbuild/protobuf";
import { BlueprintSchema } from "@conductor/sdk/client";
import { describe, expect, it } from "vitest";
import { NotRunnableInPage, pageModeFor } from "./server-page-mode.js";

const documentJson = JSON.stringify({
  conductor: "blueprint/v1",
  id: "mixed",
  nodes: { a: { type: "core.constant", config: { value: 1 } } },
});

function blueprint(nodes: { id: string; type: string; runtime: string }[]) {
  return create(BlueprintSchema, {
    id: "mixed",
    path: "mixed.blueprint.yaml",
    documentJson,
    graph: { nodes },
  });
}

describe("pageModeFor()", () => {
  it("gives an engine and the blueprint's text when the page serves every node", async () => {
    const mode = pageModeFor(blueprint([{ id: "a", type: "core.constant", runtime: "builtin" }]));
    expect(mode.blueprint).toEqual({ path: "mixed.blueprint.yaml", text: documentJson });
    expect((await mode.engine.run(documentJson)).status).toBe("completed");
    await mode.engine.close();
  });

  it("refuses nodes of the server's runtimes and Node-only built-ins, naming each node, type and runtime", () => {
    let error: unknown;
    try {
      pageModeFor(
        blueprint([
          { id: "a", type: "core.constant", runtime: "builtin" },
          { id: "stats", type: "py.aggregate", runtime: "python" },
          { id: "sh", type: "core.shell", runtime: "builtin" },
          { id: "ghost", type: "test.none", runtime: "" },
        ]),
      );
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(NotRunnableInPage);
    expect((error as NotRunnableInPage).message).toBe(
      'blueprint "mixed" cannot run in this page, which runs built-in nodes only: 3 nodes need the server',
    );
    expect((error as NotRunnableInPage).lines).toEqual([
      'node "stats" (type "py.aggregate") runs in runtime "python", a runtime of the server, which a page cannot start',
      'node "sh" (type "core.shell") runs in runtime "builtin" on the server: the project\'s TypeScript modules and Node-only built-ins (files, shell) are not in this page',
      'node "ghost" (type "test.none"): no runtime of the server serves its type, and the page does not either',
    ]);
  });
});
