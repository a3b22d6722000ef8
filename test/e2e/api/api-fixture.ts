import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ApiServer,
  type ApiServerOptions,
  type Conductor,
  createApiServer,
  createConductor,
} from "@conductor/host";

/**
 * A temporary project for the API tests, with blueprints of built-in nodes only:
 * - `greet`: passthrough → template → passthrough, input `name`, output `text` ("Hello, <name>!");
 * - `sum`: core.add of two numbers;
 * - `slow`: a passthrough, then a 400 ms core.delay (for watching live); `long`: a 60 s delay (for cancelling);
 * - `broken`: reads a file outside the project, so it fails;
 * - `chain10`: ten core.add nodes, each adding 1.
 */
export const BLUEPRINTS: Record<string, string> = {
  "greet.blueprint.yaml": `conductor: blueprint/v1
id: greet
title: Greet someone
description: Renders a greeting and passes it on.
inputs:
  name: { schema: { type: string }, description: Who to greet }
outputs:
  text: shout.value
nodes:
  echo: { type: core.passthrough, inputs: { value: inputs.name } }
  render: { type: core.template, config: { template: "Hello, {{.}}!" }, inputs: { data: echo.value } }
  shout: { type: core.passthrough, inputs: { value: render.text } }
`,
  "sum.blueprint.yaml": `conductor: blueprint/v1
id: sum
inputs:
  a: { schema: { type: number } }
  b: { schema: { type: number }, default: 2 }
outputs:
  sum: add.sum
nodes:
  add: { type: core.add, inputs: { a: inputs.a, b: inputs.b } }
`,
  "slow.blueprint.yaml": `conductor: blueprint/v1
id: slow
inputs:
  value: { schema: { type: string }, default: "late" }
outputs:
  value: wait.value
nodes:
  first: { type: core.passthrough, inputs: { value: inputs.value } }
  wait: { type: core.delay, config: { ms: 400 }, inputs: { value: first.value } }
`,
  "long.blueprint.yaml": `conductor: blueprint/v1
id: long
outputs:
  value: wait.value
nodes:
  wait: { type: core.delay, config: { ms: 60000 }, inputs: { value: { value: 1 } } }
`,
  "broken.blueprint.yaml": `conductor: blueprint/v1
id: broken
outputs:
  content: read.content
nodes:
  read: { type: core.file-read, inputs: { path: { value: "/nonexistent/conductor-api-test/missing.txt" } } }
`,
  "chain10.blueprint.yaml": `conductor: blueprint/v1
id: chain10
inputs:
  x: { schema: { type: number }, default: 0 }
outputs:
  x: n9.sum
nodes:
${Array.from({ length: 10 }, (_, i) => `  n${i}: { type: core.add, inputs: { a: ${i === 0 ? "inputs.x" : `n${i - 1}.sum`}, b: { value: 1 } } }`).join("\n")}
`,
};

/** A temp project on disk, a conductor over it and an API server; `close()` undoes all three. */
export interface ApiFixture {
  dir: string;
  conductor: Conductor;
  server: ApiServer;
  /** The server's token (a random one unless the options gave one). */
  token: string;
  /** The header carrying the token, for plain HTTP requests. */
  auth: { authorization: string };
  close(): Promise<void>;
}

/** Writes a temp project with {@link BLUEPRINTS} (plus `extra` files) and serves it on 127.0.0.1, port 0. */
export async function startApiFixture(
  options: ApiServerOptions = {},
  extra: Record<string, string> = {},
): Promise<ApiFixture> {
  const dir = await writeProject(extra);
  const conductor = await createConductor({ projectDir: dir });
  let server: ApiServer;
  try {
    server = await createApiServer(conductor, { host: "127.0.0.1", port: 0, debuggerDir: false, ...options });
  } catch (error) {
    await conductor.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    conductor,
    server,
    token: server.token,
    auth: { authorization: `Bearer ${server.token}` },
    async close() {
      await server.close();
      await conductor.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Writes the test project into a new temp directory. */
export async function writeProject(extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "conductor-api-"));
  await writeFile(join(dir, "conductor.yaml"), "conductor: project/v1\nblueprints: [.]\n");
  for (const [name, text] of Object.entries({ ...BLUEPRINTS, ...extra })) {
    await writeFile(join(dir, name), text);
  }
  return dir;
}
