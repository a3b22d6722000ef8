/**
 * The `conformance.*` node types every runtime under test serves (docs/protocol.md §5), as the kit checks their
 * discovery: ports, flags, and values their JSON Schemas must accept and reject. What each does when run is
 * checked by the execute, value, cancel and lifecycle checks.
 */
export interface KitchenSinkType {
  type: string;
  inputs: readonly string[];
  /** Input ports that must be marked required. */
  requiredInputs?: readonly string[];
  outputs: readonly string[];
  flags?: readonly ("idempotent" | "cancellable" | "streaming" | "deterministic")[];
  /** Configs its config schema must accept, and reject. */
  configs: { accept: readonly unknown[]; reject: readonly unknown[] };
  /** Per input port: values its schema must accept, and reject. */
  inputValues?: Readonly<Record<string, { accept: readonly unknown[]; reject: readonly unknown[] }>>;
}

/** The node types of the kitchen sink. A runtime may serve more (the Rust one adds `conformance.panic`). */
export const KITCHEN_SINK: readonly KitchenSinkType[] = [
  {
    type: "conformance.echo",
    inputs: ["value"],
    outputs: ["value"],
    configs: { accept: [{}], reject: [] },
  },
  {
    type: "conformance.produce",
    inputs: [],
    outputs: ["value"],
    configs: {
      accept: [{ kind: "json" }, { kind: "bytes" }, { kind: "arrow" }, { kind: "large", size: 10 }],
      reject: [{}, { kind: "xml" }, { kind: "large", size: "big" }, { kind: "large", size: 1.5 }],
    },
  },
  {
    type: "conformance.add",
    inputs: ["a", "b"],
    requiredInputs: ["a", "b"],
    outputs: ["sum"],
    flags: ["idempotent", "deterministic"],
    configs: { accept: [{}, { offset: 1.5 }, { offset: -2 }], reject: [{ offset: "ten" }] },
    inputValues: {
      a: { accept: [1, 2.5, -3], reject: ["x", null, [1]] },
      b: { accept: [0, 1e300], reject: ["1", true] },
    },
  },
  {
    type: "conformance.fail",
    inputs: [],
    outputs: [],
    configs: {
      accept: [
        { message: "m", retryable: true },
        { message: "m", retryable: false, type: "thing.broken" },
      ],
      reject: [{}, { message: "m" }, { message: "m", retryable: "yes" }, { message: 1, retryable: true }],
    },
  },
  {
    type: "conformance.throw",
    inputs: [],
    outputs: [],
    configs: { accept: [{ message: "m" }], reject: [{}, { message: 7 }] },
  },
  {
    type: "conformance.sleep",
    inputs: [],
    outputs: ["slept_ms"],
    flags: ["cancellable"],
    configs: { accept: [{ ms: 0 }, { ms: 100 }], reject: [{}, { ms: "x" }, { ms: 1.5 }, { ms: -1 }] },
  },
  {
    type: "conformance.report",
    inputs: [],
    outputs: ["done"],
    flags: ["streaming"],
    configs: { accept: [{}], reject: [] },
  },
  {
    type: "conformance.crash",
    inputs: [],
    outputs: [],
    configs: { accept: [{}], reject: [] },
  },
  {
    type: "conformance.print",
    inputs: [],
    outputs: ["ok"],
    configs: { accept: [{}], reject: [] },
  },
];

/**
 * The JSON `conformance.produce` returns for kind "json", as exact text: 9007199254740993 has no IEEE double, so
 * only a runtime that keeps integers beyond 2^53 exact produces these digits.
 */
export const PRODUCED_JSON =
  '{"string":"héllo ✓","integer":42,"big":9007199254740993,"float":1.5,"boolean":true,"null":null,"list":[1,"two",3.5],"nested":{"a":{"b":[]}}}';
