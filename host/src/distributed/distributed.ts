import { ConductorError } from "../errors.js";
import type { Project } from "../project/project-config.js";
import type { RuntimeRegistryOptions } from "../runtime/runtime-registry.js";
import { Dispatcher, type DistributedOptions } from "./remote-runtime.js";

export type { DistributedOptions } from "./remote-runtime.js";

/**
 * The remote runtimes of a host in distributed mode, for the runtime registry: each named runtime must be one of
 * the project's (its workers run the project's node code); its connection is made when a worker advertised it.
 */
export function remoteRuntimes(
  project: Project,
  options: DistributedOptions,
): NonNullable<RuntimeRegistryOptions["remote"]> {
  const known = Object.keys(project.runtimes);
  for (const name of options.remoteRuntimes) {
    if (!known.includes(name)) {
      throw new ConductorError(
        "inputs_invalid",
        `remote runtime "${name}" is not a runtime of the project; its runtimes are: ${known.join(", ") || "(none)"}`,
      );
    }
  }
  let dispatcher: Dispatcher | undefined;
  return {
    names: options.remoteRuntimes,
    connect: (name) => {
      dispatcher ??= new Dispatcher(options);
      return dispatcher.connect(name);
    },
    close: async () => {
      await dispatcher?.close();
    },
  };
}
