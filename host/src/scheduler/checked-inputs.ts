import type { BlueprintGraph } from "../blueprint/blueprint-graph.js";
import { ERROR_PORT } from "../blueprint/blueprint-graph.js";
import { provablyAccepts } from "../blueprint/schema-compatibility.js";
import type { RuntimeConnection } from "../runtime/runtime-connection.js";

/**
 * Finds, once per blueprint, the node inputs whose values need no second check at run time: those bound to an
 * output of a node whose runtime checks every output against its output schema (`checksOutputs`), where the
 * validator proves that schema accepts nothing the input port's schema refuses (`provablyAccepts`). The scheduler
 * marks such values `checked` in the invocation, and the runtime uses them as they are instead of parsing them
 * again (docs/decisions.md, "Port validation"). Because a value that is mapped over (`map.over`), or a failure
 * routed on the `error` port, is not the producer's checked output, neither is ever marked.
 */
export function findCheckedInputs(
  graph: BlueprintGraph,
  runtimes: readonly RuntimeConnection[],
): (ReadonlySet<string> | undefined)[] {
  const schemas = new Map<string, Record<string, unknown> | undefined>();
  const schemaOf = (text: string): Record<string, unknown> | undefined => {
    if (!schemas.has(text)) schemas.set(text, parseSchema(text));
    return schemas.get(text);
  };
  return graph.nodes.map((node) => {
    let checked: Set<string> | undefined;
    for (const port in node.inputs) {
      const binding = node.inputs[port]!;
      if (binding.kind !== "node" || binding.port === ERROR_PORT || node.policy.map?.over === port) continue;
      if (runtimes[binding.node]?.checksOutputs !== true) continue;
      const producer = graph.nodes[binding.node]!.nodeType.outputs.find(
        (output) => output.name === binding.port,
      );
      const consumer = node.nodeType.inputs.find((input) => input.name === port);
      const source = producer === undefined ? undefined : schemaOf(producer.schema);
      const target = consumer === undefined ? undefined : schemaOf(consumer.schema);
      if (source !== undefined && target !== undefined && provablyAccepts(source, target)) {
        checked ??= new Set();
        checked.add(port);
      }
    }
    return checked;
  });
}

/** A port's JSON Schema, or undefined when it cannot be read (then nothing about the edge is proved). */
function parseSchema(text: string): Record<string, unknown> | undefined {
  if (text === "") return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
