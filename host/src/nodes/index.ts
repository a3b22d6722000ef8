import type { NodeDefinition } from "@conductor/sdk";
import type { ResolvedAccess } from "../project/project-access.js";
import { add } from "./add.js";
import { branch } from "./branch.js";
import { constant } from "./constant.js";
import { csvParse } from "./csv-parse.js";
import { delay } from "./delay.js";
import { createFileAccess } from "./file-access.js";
import { createFileRead } from "./file-read.js";
import { createFileWrite } from "./file-write.js";
import { httpRequest } from "./http-request.js";
import { jsonTransform } from "./json-transform.js";
import { passthrough } from "./passthrough.js";
import { createShell } from "./shell.js";
import { template } from "./template.js";

export {
  add,
  branch,
  constant,
  createFileRead,
  createFileWrite,
  createShell,
  csvParse,
  delay,
  httpRequest,
  jsonTransform,
  passthrough,
  template,
};

/** Options of {@link createCoreNodes}. */
export interface CoreNodesOptions {
  /** The project's access rules: where the file nodes may read and write, and whether core.shell runs. */
  access: ResolvedAccess;
}

/**
 * The built-in node library (core.*), run in the host process, bound to one project's access rules: the file
 * nodes are confined to its file directories and core.shell follows its `access.shell`. Importing it stays cheap
 * for the CLI's cold start: the heavier libraries (execa, JSONata, Mustache, csv-parse) load when a node first
 * needs them.
 */
export function createCoreNodes(options: CoreNodesOptions): NodeDefinition[] {
  const files = createFileAccess({
    directories: options.access.fileDirectories,
    protectedPaths: options.access.protectedPaths,
  });
  return [
    httpRequest,
    jsonTransform,
    template,
    createFileRead(files),
    createFileWrite(files),
    csvParse,
    createShell({ access: options.access.shell }),
    delay,
    constant,
    passthrough,
    add,
    branch,
  ];
}
