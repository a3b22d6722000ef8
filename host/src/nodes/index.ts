import type { NodeDefinition } from "@conductor/sdk";
import { add } from "./add.js";
import { branch } from "./branch.js";
import { constant } from "./constant.js";
import { csvParse } from "./csv-parse.js";
import { delay } from "./delay.js";
import { fileRead } from "./file-read.js";
import { fileWrite } from "./file-write.js";
import { httpRequest } from "./http-request.js";
import { jsonTransform } from "./json-transform.js";
import { passthrough } from "./passthrough.js";
import { shell } from "./shell.js";
import { template } from "./template.js";

export {
  add,
  branch,
  constant,
  csvParse,
  delay,
  fileRead,
  fileWrite,
  httpRequest,
  jsonTransform,
  passthrough,
  shell,
  template,
};

/**
 * The built-in node library (core.*), run in the host process. Importing it stays cheap for the CLI's cold start:
 * the heavier libraries (execa, JSONata, Mustache, csv-parse) load when a node first needs them.
 */
export const coreNodes: NodeDefinition[] = [
  httpRequest,
  jsonTransform,
  template,
  fileRead,
  fileWrite,
  csvParse,
  shell,
  delay,
  constant,
  passthrough,
  add,
  branch,
];
