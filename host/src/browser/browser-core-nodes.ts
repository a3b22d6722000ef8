import type { NodeDefinition } from "@conductor/sdk";
import { add } from "../nodes/add.js";
import { branch } from "../nodes/branch.js";
import { constant } from "../nodes/constant.js";
import { csvParse } from "../nodes/csv-parse.js";
import { delay } from "../nodes/delay.js";
import { httpRequest } from "../nodes/http-request.js";
import { jsonTransform } from "../nodes/json-transform.js";
import { passthrough } from "../nodes/passthrough.js";
import { template } from "../nodes/template.js";

/**
 * The built-in nodes that need nothing of Node.js, as a page's engine serves them: core.http-request uses the
 * page's fetch (so the page's origin and CORS rules apply), core.csv-parse csv-parse's browser build. Left out:
 * core.file-read and core.file-write (no files in a page), core.shell (no processes).
 */
export const browserCoreNodes: readonly NodeDefinition[] = [
  template,
  jsonTransform,
  constant,
  passthrough,
  add,
  branch,
  delay,
  csvParse,
  httpRequest,
];
