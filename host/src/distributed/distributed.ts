import { ConductorError } from "../errors.js";
import type { Project } from "../project/project-config.js";
import type { RuntimeRegistryOptions } from "../runtime/runtime-registry.js";
import type { ExecutionListener } from "../scheduler/execution-events.js";
import type { DistributedStats } from "./job-data.js";
import type { Dispatcher, DistributedOptions } from "./remote-runtime.js";
import type { ConductorWorker, WorkerOptions } from "./worker.js";
import type { ListedWorker } from "./worker-registry.js";

export type { DistributedStats } from "./job-data.js";
export type { DistributedOptions } from "./remote-runtime.js";

/** How long a scrape waits for Redis before it leaves the distributed series out. */
const STATS_TIMEOUT_MS = 2_000;

/**
 * The remote runtimes of a host in distributed mode, for the runtime registry: each named runtime must be one of
 * the project's (its workers run the project's node code); its connection is made when a worker advertised it.
 * `observer` removes the blobs an execution passed through the blob store once it ended.
 */
export function remoteRuntimes(
  project: Project,
  options: DistributedOptions,
): NonNullable<RuntimeRegistryOptions["remote"]> & {
  observer: { observe(): ExecutionListener };
  stats(): Promise<DistributedStats | undefined>;
} {
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
    connect: async (name) => {
      // Loaded only here: a host without remote runtimes never loads BullMQ.
      const { Dispatcher: Made } = await import("./remote-runtime.js");
      dispatcher ??= new Made(options, project.dir);
      return dispatcher.connect(name);
    },
    close: async () => {
      await dispatcher?.close();
    },
    observer: {
      observe: () => (event) => {
        if (event.type === "execution.finished" && dispatcher !== undefined)
          dispatcher.blobs.executionEnded(event.executionId).catch((error: Error) => {
            options.onNotice?.(
              `could not remove the blobs of execution "${event.executionId}" from Redis (${error.message}); they expire by themselves`,
            );
          });
      },
    },
    // Undefined before the first remote runtime connected, and when Redis does not answer in time.
    stats: async () => {
      if (dispatcher === undefined) return undefined;
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          dispatcher.stats(),
          new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), STATS_TIMEOUT_MS);
          }),
        ]);
      } catch {
        return undefined;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Starts a worker serving the project's runtimes through Redis (see distributed/worker.ts). BullMQ and ioredis are
 * loaded on the first call, so that embedding the host without Redis never loads them.
 */
export async function startWorker(options: WorkerOptions): Promise<ConductorWorker> {
  const { startWorker: start } = await import("./worker.js");
  return start(options);
}

/** The workers registered in Redis at `url` (see distributed/list-workers.ts); loads ioredis on first use. */
export async function listRedisWorkers(
  url: string,
  options: { all?: boolean; timeoutMs?: number } = {},
): Promise<ListedWorker[]> {
  const { listRedisWorkers: list } = await import("./list-workers.js");
  return list(url, options);
}
