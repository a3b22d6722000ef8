import type { NodeDefinition } from "@conductor/sdk";
import { add } from "./add.js";
import { constant } from "./constant.js";
import { delay } from "./delay.js";
import { passthrough } from "./passthrough.js";

export { add, constant, delay, passthrough };

/** The built-in node library (core.*), run in the host process. */
export const coreNodes: NodeDefinition[] = [constant, passthrough, add, delay];
