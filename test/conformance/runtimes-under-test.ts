import { fileURLToPath } from "node:url";
import type { RuntimeSpec } from "@conductor/host";

/** What a runtime can be asked to do in the conformance suite. */
export interface Capabilities {
  /** Can run `conformance.crash` (a child process; in-process it would kill the host). */
  crash: boolean;
  /** Can run `conformance.print` (a child process whose stdout belongs to the protocol). */
  print: boolean;
}

/** A runtime the suite runs against. */
export interface RuntimeUnderTest {
  name: string;
  language: string;
  /** How the host starts it; undefined for the host's in-process runtime. */
  spec?: RuntimeSpec;
  capabilities: Capabilities;
  /** The error type `conformance.throw` produces in this language. */
  thrownType: string;
  /** The program the conformance kit starts (what `runtimes.<name>.command` would say), for child runtimes. */
  command?: string[];
}

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** Every runtime Conductor ships. Each must pass every scenario its capabilities allow. */
export const runtimesUnderTest: RuntimeUnderTest[] = [
  {
    name: "builtin",
    language: "typescript",
    capabilities: { crash: false, print: false },
    thrownType: "TypeError",
  },
  {
    name: "node",
    language: "typescript",
    spec: { kind: "node", modules: [repo("test/conformance/kitchen-sink.ts")] },
    capabilities: { crash: true, print: true },
    thrownType: "TypeError",
    command: [process.execPath, repo("runtimes/node/dist/main.js"), repo("test/conformance/kitchen-sink.ts")],
  },
  {
    name: "python",
    language: "python",
    spec: {
      kind: "python",
      modules: ["conductor_runtime.conformance"],
      venv: repo("runtimes/python/.venv"),
      runtimePackage: repo("runtimes/python"),
    },
    capabilities: { crash: true, print: true },
    thrownType: "ValueError",
    command: [
      repo("runtimes/python/.venv/bin/python"),
      "-m",
      "conductor_runtime",
      "--module",
      "conductor_runtime.conformance",
    ],
  },
  {
    name: "rust",
    language: "rust",
    spec: { kind: "rust", package: repo("runtimes/rust"), binary: "conductor-conformance-runtime" },
    capabilities: { crash: true, print: true },
    thrownType: "error",
    command: [repo("runtimes/rust/target/release/conductor-conformance-runtime")],
  },
];

/** The runtimes selected with CONDUCTOR_CONFORMANCE_RUNTIMES (comma-separated names), default all. */
export function selectedRuntimes(): RuntimeUnderTest[] {
  const filter = process.env.CONDUCTOR_CONFORMANCE_RUNTIMES;
  if (filter === undefined || filter === "") return runtimesUnderTest;
  const names = filter.split(",").map((name) => name.trim());
  return runtimesUnderTest.filter((runtime) => names.includes(runtime.name));
}
