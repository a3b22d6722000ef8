import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const repository = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/**
 * Writes a project for the fault tests into `dir`: a Python runtime and the Node sidecar serving the recording
 * nodes of `fixtures/`, and a blueprint `relay` of `length` nodes alternating between them, each recording its runs
 * in `runs.log`, sleeping `ms` and adding one, with retries (the nodes are idempotent, so a lost runtime is retried).
 */
export async function writeFaultProject(dir: string, options: { length: number; ms: number }): Promise<void> {
  await writeFile(
    join(dir, "conductor.yaml"),
    `conductor: project/v1
blueprints: [.]
runtimes:
  python:
    kind: python
    venv: ${JSON.stringify(repository("runtimes/python/.venv"))}
    path: [${JSON.stringify(fixture(""))}]
    modules: [fault_nodes]
  node: { kind: node, modules: [${JSON.stringify(fixture("fault-nodes.ts"))}] }
`,
  );
  const file = JSON.stringify(join(dir, "runs.log"));
  let nodes = "";
  for (let i = 0; i < options.length; i++) {
    const type = i % 2 === 0 ? "fault.py-record" : "fault.record";
    const value = i === 0 ? "inputs.start" : `n${i - 1}.value`;
    nodes += `  n${i}: { type: ${type}, config: { file: ${file}, ms: ${options.ms} }, inputs: { value: ${value} }, retry: { maxAttempts: 8, initialDelayMs: 20, maxDelayMs: 200 } }\n`;
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
}

/** One recorded run of a node. */
export interface Run {
  executionId: string;
  nodeId: string;
  attempt: number;
  pid: number;
}

/** The runs recorded so far, in order. */
export async function readRuns(dir: string): Promise<Run[]> {
  const text = await readFile(join(dir, "runs.log"), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [executionId, nodeId, attempt, pid] = line.split(" ");
      return { executionId: executionId!, nodeId: nodeId!, attempt: Number(attempt), pid: Number(pid) };
    });
}

/**
 * Checks that no node ran again after it completed: every recorded run of a node has an attempt number no greater
 * than the attempt that completed it (attempt numbers only grow, across retries and resumes alike). Gives the
 * offending runs.
 */
export function runsAfterCompletion(
  runs: Run[],
  completedAttempt: (executionId: string, nodeId: string) => number | undefined,
): Run[] {
  return runs.filter((run) => {
    const completed = completedAttempt(run.executionId, run.nodeId);
    return completed === undefined || run.attempt > completed;
  });
}

export { waitFor } from "../fixtures/wait-for.js";
