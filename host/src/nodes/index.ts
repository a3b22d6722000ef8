import type { NodeDefinition } from "@conductor/sdk";

/** The built-in node library (core.*), run in the host process. */
export const coreNodes: NodeDefinition[] = [];
