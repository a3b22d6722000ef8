/**
 * A runtime serving the stream nodes of streaming-nodes.ts without announcing `stream.credits`, as a runtime of an
 * older ABI minor version would: the host must refuse its stream ports (streaming-sidecar.test.ts).
 */
import type { NodeDefinition } from "@conductor/sdk";
import { serveRuntime } from "@conductor/sdk/serve";

// Loaded by URL: Node runs this file as TypeScript directly, and its imports keep their .ts names.
const { numbers, total } = (await import(new URL("./streaming-nodes.ts", import.meta.url).href)) as {
  numbers: NodeDefinition;
  total: NodeDefinition;
};
await serveRuntime({ nodes: [numbers, total], streams: false });
