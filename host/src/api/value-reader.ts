import { Code, ConnectError } from "@connectrpc/connect";
import type { Conductor } from "../conductor.js";
import { type ValueBytes, valueBytes } from "./value-handles.js";
import type { ValueUploads } from "./value-uploads.js";

/**
 * Finds the value a handle's ref names, for `ReadValue`: an input or output of an execution or of one of its
 * nodes (as recorded: a blob file when the journal holds one, the value itself in memory), or an upload.
 * Execution ids may hold `/` (a sub-blueprint's child execution is `<parent>/<node>`), so a ref is read from its
 * end.
 */
export interface ValueReader {
  read(ref: string): Promise<ValueBytes>;
}

const NODE_VALUE = /^executions\/(.+)\/nodes\/([^/]+)\/(inputs|outputs)\/([^/]+)$/;
const EXECUTION_VALUE = /^executions\/(.+)\/(inputs|outputs)\/([^/]+)$/;
const UPLOAD = /^uploads\/([0-9a-f]{64})$/;

/** Creates the {@link ValueReader} of an API service. */
export function createValueReader(conductor: Conductor, uploads: ValueUploads): ValueReader {
  const notFound = (ref: string, why: string) => new ConnectError(`no value "${ref}": ${why}`, Code.NotFound);

  return {
    async read(ref) {
      const upload = UPLOAD.exec(ref);
      if (upload !== null) {
        const bytes = await uploads.bytes(upload[1]!);
        if (bytes === undefined) throw notFound(ref, "nothing was uploaded with this SHA-256");
        return bytes;
      }
      const node = NODE_VALUE.exec(ref);
      const execution = node === null ? EXECUTION_VALUE.exec(ref) : null;
      if (node === null && execution === null) {
        throw new ConnectError(
          `"${ref}" is not a value ref; expected "executions/<id>/outputs/<name>", "executions/<id>/inputs/<name>", "executions/<id>/nodes/<node>/(inputs|outputs)/<port>" or "uploads/<sha256>", as handles give them`,
          Code.InvalidArgument,
        );
      }
      const executionId = (node ?? execution)![1]!;
      const detail = conductor.executions.get(executionId);
      if (detail === undefined) throw notFound(ref, `execution "${executionId}" is not recorded`);
      let values: Record<string, unknown> | undefined;
      let name: string;
      if (node !== null) {
        const history = detail.nodes[node[2]!];
        values = node[3] === "inputs" ? history?.inputs : history?.outputs;
        name = node[4]!;
      } else {
        values = execution![2] === "inputs" ? detail.inputs : detail.outputs;
        name = execution![3]!;
      }
      if (values === undefined || !(name in values) || values[name] === undefined) {
        throw notFound(ref, `execution "${executionId}" has no such value (yet)`);
      }
      return valueBytes(values[name]);
    },
  };
}
