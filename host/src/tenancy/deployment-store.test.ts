import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { diffDeployments } from "./deployment-diff.js";
import { type DeploymentStore, type NewDeployment, openDeploymentStore } from "./deployment-store.js";
import { TENANCY_FILE } from "./tenancy-store.js";

function version(
  document: string,
  digest: string,
  code: Record<string, string> = { builtin: "a" },
): NewDeployment {
  return {
    namespace: "default",
    blueprintId: "orders",
    digest,
    codeDigest: `code-${digest}`,
    code,
    document,
    subBlueprints: {},
    deployedAt: 1,
    deployedBy: "cli:test",
    source: "cli",
    message: "",
  };
}

const V1 = `conductor: blueprint/v1
id: orders
inputs: { n: { default: 1 } }
outputs: { total: add.sum }
nodes:
  add: { type: core.add, inputs: { a: inputs.n, b: { value: 1 } } }
  log: { type: core.passthrough, inputs: { value: add.sum } }
`;
const V2 = `conductor: blueprint/v1
id: orders
inputs: { n: { default: 2 } }
outputs: { total: add.sum }
nodes:
  add: { type: core.add, inputs: { a: inputs.n, b: { value: 5 } } }
  note: { type: core.passthrough, inputs: { value: add.sum } }
`;

describe("openDeploymentStore()", () => {
  let dir: string;
  let store: DeploymentStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "deployments-"));
    store = openDeploymentStore(dir);
  });
  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("numbers versions, makes the newest current, and reuses a version with the same digest", () => {
    expect(store.publish(version(V1, "d1"))).toMatchObject({ created: true, deployment: { version: 1 } });
    expect(store.publish(version(V2, "d2"))).toMatchObject({ created: true, deployment: { version: 2 } });
    expect(store.current("default", "orders")?.version).toBe(2);
    const again = store.publish(version(V1, "d1"));
    expect(again).toMatchObject({ created: false, deployment: { version: 1, current: true } });
    expect(store.list("default").map((entry) => [entry.version, entry.current])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(store.list("team-a")).toEqual([]);
    expect(store.setCurrent("default", "orders", 2)?.current).toBe(true);
    expect(store.setCurrent("default", "orders", 3)).toBeUndefined();
  });

  it("records the version an execution ran", () => {
    store.recordExecution("e1", { namespace: "default", blueprintId: "orders", version: 1, digest: "d1" });
    expect(store.executionDeployment("e1")).toEqual({
      namespace: "default",
      blueprintId: "orders",
      version: 1,
      digest: "d1",
    });
    expect(store.executionDeployment("e2")).toBeUndefined();
  });

  it("refuses to change or delete a published version", () => {
    store.publish(version(V1, "d1"));
    const db = new DatabaseSync(join(dir, TENANCY_FILE));
    try {
      expect(() => db.exec("UPDATE deployments SET document = 'x'")).toThrow(
        "a deployed version is immutable",
      );
      expect(() => db.exec("DELETE FROM deployments")).toThrow("a deployed version is immutable");
    } finally {
      db.close();
    }
    expect(store.get("default", "orders", 1)?.document).toBe(V1);
  });

  it("moves its generation when another connection deploys", () => {
    const before = store.generation();
    const other = openDeploymentStore(dir);
    try {
      other.publish(version(V1, "d1"));
    } finally {
      other.close();
    }
    expect(store.generation()).not.toBe(before);
    expect(store.current("default", "orders")?.version).toBe(1);
  });
});

describe("diffDeployments()", () => {
  it("names the nodes, inputs, outputs and runtimes that changed", async () => {
    const from = { ...version(V1, "d1"), version: 1, current: false };
    const to = { ...version(V2, "d2", { builtin: "b", py: "c" }), version: 2, current: true };
    expect(await diffDeployments(from, to)).toEqual({
      blueprintId: "orders",
      from: 1,
      to: 2,
      nodes: { added: ["note"], removed: ["log"], changed: ["add"] },
      inputs: { added: [], removed: [], changed: ["n"] },
      outputs: { added: [], removed: [], changed: [] },
      code: ["builtin", "py"],
      subBlueprints: { added: [], removed: [], changed: [] },
      other: [],
    });
  });
});
