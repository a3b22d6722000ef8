import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConductorMetrics } from "@conductor/host";
import {
  type DistributedHost,
  REDELIVER_SOON,
  startDistributedHost,
  type TestWorkerOptions,
} from "../fixtures/distributed-host.js";

export { waitFor } from "../fixtures/wait-for.js";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/**
 * Writes a project into `dir` (a worker's or a scheduler's own directory: nothing but Redis is shared, and the
 * test's run log): the Node sidecar serving `fixtures/dist-nodes.ts`, and blueprints:
 * - `relay`: `length` nodes in a chain, each recording its run in `runsFile`, sleeping `ms` and adding one; node i
 *   is `dist.once` (not idempotent) when i % 3 == 1, else `dist.record`; with retries.
 * - `slow`: one node sleeping `slowMs`.
 */
export async function writeDistProject(
  dir: string,
  options: { runsFile: string; length: number; ms: number; slowMs?: number },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "conductor.yaml"),
    `conductor: project/v1
blueprints: [.]
runtimes:
  node: { kind: node, modules: [${JSON.stringify(fixture("dist-nodes.ts"))}] }
`,
  );
  const file = JSON.stringify(options.runsFile);
  let nodes = "";
  for (let i = 0; i < options.length; i++) {
    const type = i % 3 === 1 ? "dist.once" : "dist.record";
    const value = i === 0 ? "inputs.start" : `n${i - 1}.value`;
    nodes += `  n${i}: { type: ${type}, config: { file: ${file}, ms: ${options.ms} }, inputs: { value: ${value} }, retry: { maxAttempts: 10, initialDelayMs: 20, maxDelayMs: 200 } }\n`;
  }
  await writeFile(
    join(dir, "relay.blueprint.yaml"),
    `conductor: blueprint/v1
id: relay
inputs:
  start: { schema: { type: integer }, default: 0 }
outputs:
  value: n${options.length - 1}.value
nodes:
${nodes}`,
  );
  await writeFile(
    join(dir, "slow.blueprint.yaml"),
    `conductor: blueprint/v1
id: slow
outputs:
  value: sleep.value
nodes:
  sleep: { type: dist.record, config: { file: ${file}, ms: ${options.slowMs ?? 60_000} }, inputs: { value: { value: 1 } } }
`,
  );
}

/**
 * Writes blueprint `id` into the project `dir`: one node "only" of `type` (a node of `fixtures/dist-nodes.ts`,
 * recording its run in `runsFile`, sleeping 5 ms and adding one to input `start`); gives its path.
 */
export async function writeOneNodeBlueprint(
  dir: string,
  options: { id: string; type: string; runsFile: string },
): Promise<string> {
  const path = join(dir, `${options.id}.blueprint.yaml`);
  await writeFile(
    path,
    `conductor: blueprint/v1
id: ${options.id}
inputs:
  start: { schema: { type: integer } }
outputs:
  value: only.value
nodes:
  only: { type: ${options.type}, config: { file: ${JSON.stringify(options.runsFile)}, ms: 5 }, inputs: { value: inputs.start } }
`,
  );
  return path;
}

/** One recorded run of a node. */
export interface Run {
  executionId: string;
  nodeId: string;
  attempt: number;
  pid: number;
  kind: "record" | "once" | "pure" | "crash";
}

export async function readRuns(file: string): Promise<Run[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [executionId, nodeId, attempt, pid, kind] = line.split(" ");
      return {
        executionId: executionId!,
        nodeId: nodeId!,
        attempt: Number(attempt),
        pid: Number(pid),
        kind: kind as Run["kind"],
      };
    });
}

/** A fresh Redis, one worker and one scheduler (a conductor whose "node" runtime is remote), each in its own directory. */
export type DistSetup = DistributedHost;

/**
 * Starts a {@link DistSetup} under a new directory named by `prefix`: the worker's and the host's projects are
 * written by {@link writeDistProject} with `project` (their run log is `<dir>/runs.log`), the worker runs in this
 * process with `worker`'s options beside its project and the Redis.
 */
export function startDistSetup(options: {
  prefix: string;
  project: Omit<Parameters<typeof writeDistProject>[1], "runsFile">;
  worker: TestWorkerOptions;
  /** The host's metrics, when the test reads them. */
  metrics?: ConductorMetrics;
}): Promise<DistSetup> {
  return startDistributedHost({
    prefix: options.prefix,
    writeProjects: async (dir) => {
      for (const name of ["worker", "host"])
        await writeDistProject(join(dir, name), { runsFile: join(dir, "runs.log"), ...options.project });
    },
    worker: options.worker,
    ...(options.metrics === undefined ? {} : { conductor: { metrics: options.metrics } }),
  });
}

/**
 * A {@link DistSetup} for the tests of re-delivered jobs: its first worker (re-delivering soon, see
 * {@link REDELIVER_SOON}) advertised the runtime's node types and left, so that a job waits for the test's taker
 * (`takeAndVanish`); `blueprint` is written by {@link writeOneNodeBlueprint} into the host's project.
 */
export async function startRedeliverySetup(options: {
  prefix: string;
  blueprint: { id: string; type: string };
}): Promise<{ setup: DistSetup; blueprint: string }> {
  const setup = await startDistSetup({
    prefix: options.prefix,
    project: { length: 2, ms: 5 },
    worker: { id: "first", ...REDELIVER_SOON },
  });
  const blueprint = await writeOneNodeBlueprint(join(setup.dir, "host"), {
    ...options.blueprint,
    runsFile: join(setup.dir, "runs.log"),
  });
  await setup.worker.close();
  return { setup, blueprint };
}
