import type { BlueprintDocument } from "@conductor/host";

/** A chain of `length` bench.increment nodes, optionally pinned to a runtime; output `x` = input `x` + length. */
export function chain(length: number, runtime?: string): BlueprintDocument {
  const nodes: BlueprintDocument["nodes"] = {};
  for (let i = 0; i < length; i++) {
    nodes[`n${i}`] = {
      type: "bench.increment",
      inputs: { x: i === 0 ? "inputs.x" : `n${i - 1}.x` },
      ...(runtime === undefined ? {} : { runtime }),
    };
  }
  return { conductor: "blueprint/v1", inputs: { x: {} }, outputs: { x: `n${length - 1}.x` }, nodes };
}

/** A chain of `length` Set-like nodes of `type`, each adding field `f<i>` to the object it passes on. */
export function setChain(length: number, type: string): BlueprintDocument {
  const nodes: BlueprintDocument["nodes"] = {};
  for (let i = 0; i < length; i++) {
    nodes[`n${i}`] = {
      type,
      config: { name: `f${i}` },
      inputs: { item: i === 0 ? "inputs.item" : `n${i - 1}.item` },
    };
  }
  return { conductor: "blueprint/v1", inputs: { item: {} }, outputs: { item: `n${length - 1}.item` }, nodes };
}

/** One source node fanning out to `width` sleeping nodes of `ms` each. */
export function fanOut(width: number, ms: number): BlueprintDocument {
  const nodes: BlueprintDocument["nodes"] = {
    source: { type: "bench.increment", inputs: { x: { value: 0 } } },
  };
  for (let i = 0; i < width; i++)
    nodes[`sleep${i}`] = { type: "bench.sleep", config: { ms }, inputs: { x: "source.x" } };
  return { conductor: "blueprint/v1", nodes };
}
