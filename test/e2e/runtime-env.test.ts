/**
 * A runtime's `env:` (docs/project.md): each runtime process gets the variables its spec names on top of the host's
 * environment, and wins over the host's value; a runtime without `env:` sees the host's. Tested on a Node sidecar
 * and a Python runtime, each reading the variable from inside a node.
 */
import { fileURLToPath } from "node:url";
import { type Conductor, createConductor } from "@conductor/host";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const fixtures = (path: string) => fileURLToPath(new URL(`./fixtures/runtime-env/${path}`, import.meta.url));

/** A variable only the runtimes' specs set, and one the host sets too. */
const ONLY_IN_SPEC = "CONDUCTOR_TEST_RUNTIME_ENV";
const ALSO_IN_HOST = "CONDUCTOR_TEST_RUNTIME_ENV_HOST";

describe("a runtime's env", () => {
  let conductor: Conductor;

  beforeAll(async () => {
    process.env[ALSO_IN_HOST] = "host";
    const nodeModule = fixtures("env-nodes.mjs");
    const python = {
      kind: "python" as const,
      venv: repo("runtimes/python/.venv"),
      path: [fixtures(".")],
      modules: ["env_nodes"],
    };
    conductor = await createConductor({
      store: false,
      project: {
        dir: fixtures("."),
        blueprints: [],
        nodes: [],
        runtimes: {
          sidecar: {
            kind: "node",
            modules: [nodeModule],
            env: { [ONLY_IN_SPEC]: "sidecar", [ALSO_IN_HOST]: "spec" },
          },
          plain: { kind: "node", modules: [nodeModule] },
          python: { ...python, env: { [ONLY_IN_SPEC]: "python", [ALSO_IN_HOST]: "spec" } },
        },
      },
    });
  }, 600_000);

  afterAll(async () => {
    delete process.env[ALSO_IN_HOST];
    await conductor?.close();
  });

  /** What node `type` on `runtime` reads of variable `name`. */
  async function read(type: string, runtime: string, name: string): Promise<unknown> {
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        outputs: { value: "read.value" },
        nodes: { read: { type, runtime, inputs: { name: { value: name } } } },
      },
      {},
    );
    expect(result.status, JSON.stringify(result.failure)).toBe("completed");
    return result.outputs.value;
  }

  it("reaches a Node sidecar, over the host's value", async () => {
    expect(await read("env.read-node", "sidecar", ONLY_IN_SPEC)).toBe("sidecar");
    expect(await read("env.read-node", "sidecar", ALSO_IN_HOST)).toBe("spec");
  });

  it("leaves a runtime without env: the host's environment", async () => {
    expect(await read("env.read-node", "plain", ONLY_IN_SPEC)).toBe("(unset)");
    expect(await read("env.read-node", "plain", ALSO_IN_HOST)).toBe("host");
  });

  it("reaches a Python runtime, over the host's value", async () => {
    expect(await read("env.read-py", "python", ONLY_IN_SPEC)).toBe("python");
    expect(await read("env.read-py", "python", ALSO_IN_HOST)).toBe("spec");
  });
});
