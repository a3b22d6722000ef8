import type { NodeDefinition } from "@conductor/sdk";
import { add } from "../nodes/add.js";
import { branch } from "../nodes/branch.js";
import { constant } from "../nodes/constant.js";
import { delay } from "../nodes/delay.js";
import { jsonTransform } from "../nodes/json-transform.js";
import { passthrough } from "../nodes/passthrough.js";
import { template } from "../nodes/template.js";

/**
 * The built-in nodes that need nothing of Node.js, as a page's engine serves them. Left out: core.file-read and
 * core.file-write (no files in a page), core.shell (no processes), core.http-request and core.csv-parse (not yet
 * tried in a page).
 */
export const browserCoreNodes: readonly NodeDefinition[] = [
  template,
  jsonTransform,
  constant,
  passthrough,
  add,
  branch,
  delay,
];
