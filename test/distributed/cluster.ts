import { join } from "node:path";
import { type RunningCommand, startConductor } from "../fixtures/conductor-command.js";
import { freePort } from "./redis-server.js";

const { CONDUCTOR_TOKEN: _token, CONDUCTOR_REDIS: _redis, ...environment } = process.env;
/** The environment of the cluster's processes: the test's, without a token or a Redis URL a developer's shell may hold. */
export const clusterEnvironment: NodeJS.ProcessEnv = environment;

/** A `conductor` process of the test's cluster, and what it printed (`output()`: stdout and stderr, in order). */
export interface Member extends RunningCommand {
  name: string;
}

function launch(name: string, args: string[]): Member {
  return { name, ...startConductor(args, { env: clusterEnvironment }) };
}

/** `conductor worker` in its own project directory; resolves once it announced itself. */
export async function startWorkerProcess(
  name: string,
  dir: string,
  redisUrl: string,
  extra: string[] = [],
): Promise<Member> {
  const member = launch(name, [
    "worker",
    "--redis",
    redisUrl,
    "--project",
    dir,
    "--id",
    name,
    "--concurrency",
    "8",
    ...(extra.includes("--lock-ms") ? extra : ["--lock-ms", "4000", ...extra]),
  ]);
  await until(member, () => member.output().includes(`worker ${name} serves`), "the worker to start");
  return member;
}

/** A scheduler: `conductor serve` with the "node" runtime remote, in its own project directory. */
export interface Scheduler extends Member {
  port: number;
  url: string;
}

export const TOKEN = "distributed-test-token";

export async function startScheduler(
  name: string,
  dir: string,
  redisUrl: string,
  port?: number,
  extra: string[] = [],
): Promise<Scheduler> {
  const chosen = port ?? (await freePort());
  const member = launch(name, [
    "serve",
    "--project",
    dir,
    "--port",
    String(chosen),
    "--token",
    TOKEN,
    "--no-debugger",
    "--redis",
    redisUrl,
    "--remote",
    "node",
    ...extra,
  ]);
  const url = `http://127.0.0.1:${chosen}`;
  await until(
    member,
    async () => {
      const answer = await fetch(`${url}/healthz`).catch(() => undefined);
      return answer?.ok === true;
    },
    "the scheduler to serve",
  );
  return { ...member, port: chosen, url };
}

/** Starts blueprint `id` through a scheduler's webhook, at once; gives the execution id. */
export async function startExecution(
  scheduler: Scheduler,
  id: string,
  inputs: Record<string, unknown>,
): Promise<string> {
  const answer = await fetch(`${scheduler.url}/hooks/${id}?async=1`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(inputs),
  });
  const body = (await answer.json()) as { executionId?: string };
  if (answer.status !== 202 || body.executionId === undefined)
    throw new Error(`webhook answered ${answer.status}: ${JSON.stringify(body)}`);
  return body.executionId;
}

/** An execution as GetExecution gives it (Connect JSON). */
export interface ApiExecution {
  executionId: string;
  status: string;
  outputs?: Record<string, unknown>;
  failure?: { message?: string; type?: string };
}

export async function getExecution(scheduler: Scheduler, executionId: string): Promise<ApiExecution> {
  const answer = await fetch(`${scheduler.url}/conductor.api.v1.ConductorService/GetExecution`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ executionId }),
  });
  const body = (await answer.json()) as { execution?: ApiExecution & { outputsJson?: string } };
  if (!answer.ok || body.execution === undefined)
    throw new Error(`GetExecution answered ${answer.status}: ${JSON.stringify(body)}`);
  const { outputsJson, ...execution } = body.execution;
  return {
    ...execution,
    ...(outputsJson === undefined || outputsJson === "" ? {} : { outputs: JSON.parse(outputsJson) }),
  };
}

export async function stop(member: Member, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (member.child.exitCode !== null || member.child.signalCode !== null) return;
  member.child.kill(signal);
  // A graceful stop is bounded: after 20 s the process is killed.
  const timer = setTimeout(() => member.child.kill("SIGKILL"), 20_000);
  await member.exited;
  clearTimeout(timer);
}

async function until(
  member: Member,
  condition: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (await condition()) return;
    if (member.child.exitCode !== null) throw new Error(`${member.name} exited: ${member.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what} (${member.name}): ${member.output()}`);
}

export function memberDir(root: string, name: string): string {
  return join(root, name);
}
