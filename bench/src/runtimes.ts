import { fileURLToPath } from "node:url";
import type { RuntimeSpec } from "@conductor/host";

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** The interpreter of the repository's development venv (made by scripts/setup-python.sh). */
export const pythonInterpreter = repo("runtimes/python/.venv/bin/python");

/** The Python runtime with the benchmark nodes, in the repository's development venv. */
export const pythonRuntime: RuntimeSpec = {
  kind: "python",
  modules: ["bench_nodes"],
  path: [repo("bench/python")],
  venv: repo("runtimes/python/.venv"),
  runtimePackage: repo("runtimes/python"),
};

/** The Rust example runtime (rs.add-one, rs.hash, …), built by scripts/setup-rust.sh. */
export const rustRuntime: RuntimeSpec = {
  kind: "rust",
  package: repo("runtimes/rust"),
  binary: "conductor-example-runtime",
};
