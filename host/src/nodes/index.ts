import type { NodeDefinition } from "@conductor/sdk";
import { add } from "./add.js";
import { constant } from "./constant.js";
import { csvParse } from "./csv-parse.js";
import { delay } from "./delay.js";
import { fileRead } from "./file-read.js";
import { fileWrite } from "./file-write.js";
import { jsonTransform } from "./json-transform.js";
import { passthrough } from "./passthrough.js";
import { shell } from "./shell.js";
import { template } from "./template.js";

export { add, constant, csvParse, delay, fileRead, fileWrite, jsonTransform, passthrough, shell, template };

/** The built-in node library (core.*), run in the host process. */
export const coreNodes: NodeDefinition[] = [
  constant,
  passthrough,
  add,
  delay,
  jsonTransform,
  template,
  fileRead,
  fileWrite,
  csvParse,
  shell,
];
