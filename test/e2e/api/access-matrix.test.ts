/**
 * Every entry point of the server (every RPC of the service, webhooks, the debugger's pages, the health paths),
 * called as every role and as nobody, against the access matrix published in docs/security.md. A new RPC that the
 * table lacks fails the test.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConductorMetrics, openTenancyStore } from "@conductor/host";
import { ConductorService } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api-fixture.js";
import { httpRequest } from "./http-request.js";
import { CallError, type ProtocolClient, protocolClient } from "./protocol-clients.js";

const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;
const COLUMNS = ["nobody", "worker", "viewer", "operator", "editor", "admin", "token"] as const;
type Caller = (typeof COLUMNS)[number];

const docs = fileURLToPath(new URL("../../../docs/security.md", import.meta.url));

/** The access matrix of docs/security.md: entry point → caller → allowed. */
async function publishedMatrix(): Promise<Map<string, Record<Caller, boolean>>> {
  const text = await readFile(docs, "utf8");
  const start = text.indexOf("<!-- access-matrix -->");
  const end = text.indexOf("<!-- /access-matrix -->");
  expect(start, "docs/security.md has an access matrix").toBeGreaterThan(0);
  const lines = text
    .slice(start, end)
    .split("\n")
    .filter((line) => line.startsWith("|"));
  const header = lines[0]!
    .split("|")
    .slice(2, -1)
    .map((cell) => cell.trim());
  expect(header).toEqual([...COLUMNS]);
  const matrix = new Map<string, Record<Caller, boolean>>();
  for (const line of lines.slice(2)) {
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((cell) => cell.trim());
    const row = {} as Record<Caller, boolean>;
    COLUMNS.forEach((column, index) => {
      const mark = cells[index + 1];
      expect(["✓", "✗"], `${cells[0]} / ${column}`).toContain(mark);
      row[column] = mark === "✓";
    });
    matrix.set(cells[0]!, row);
  }
  return matrix;
}

const INLINE = JSON.stringify({
  conductor: "blueprint/v1",
  id: "inline-sum",
  outputs: { sum: "add.sum" },
  nodes: { add: { type: "core.add", inputs: { a: { value: 1 }, b: { value: 2 } } } },
});

/** What a call ended with: served, or refused by authentication or authorization (with its message). */
type Outcome = { refused: false } | { refused: true; message: string };

async function rpcOutcome(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    await call();
    return { refused: false };
  } catch (error) {
    if (!(error instanceof CallError)) throw error;
    if (error.code === UNAUTHENTICATED || error.code === PERMISSION_DENIED) {
      return { refused: true, message: `${error.code}: ${error.message}` };
    }
    return { refused: false };
  }
}

async function httpOutcome(url: string, method: string, bearer: string | undefined): Promise<Outcome> {
  const answer = await httpRequest(url, {
    method,
    headers: {
      ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
      ...(method === "POST" ? { "content-type": "application/json" } : {}),
    },
    ...(method === "POST" ? { body: '{"a":1}' } : {}),
  });
  if (answer.status === 401 || answer.status === 403)
    return { refused: true, message: `${answer.status}: ${answer.body}` };
  expect(answer.status, `${method} ${url}: ${answer.body}`).toBeLessThan(500);
  return { refused: false };
}

describe("the access matrix", () => {
  let fixture: ApiFixture;
  let debuggerDir: string;
  const bearers = {} as Record<Caller, string | undefined>;
  let executionId: string;

  beforeAll(async () => {
    debuggerDir = await mkdtemp(join(tmpdir(), "conductor-debugger-"));
    await writeFile(join(debuggerDir, "index.html"), "<!doctype html><title>debugger</title>\n");
    fixture = await startApiFixture(
      { debuggerDir, metrics: createConductorMetrics() },
      { "conductor.yaml": "conductor: project/v1\nblueprints: [.]\naccess:\n  publicWebhooks: [sum]\n" },
    );
    const store = await openTenancyStore(fixture.dir);
    try {
      for (const role of ["worker", "viewer", "operator", "editor", "admin"] as const) {
        bearers[role] = store.createKey({ name: `matrix ${role}`, namespace: "default", role }).key;
      }
    } finally {
      store.close();
    }
    bearers.nobody = undefined;
    bearers.token = fixture.token;
    const api = protocolClient("connect", fixture.server.url, fixture.token);
    executionId = (
      await api.runExecution({
        blueprint: { case: "blueprintId", value: "greet" },
        inputsJson: '{"name":"Ada"}',
      })
    ).executionId;
    api.close();
  });
  afterAll(async () => {
    await fixture?.close();
    await rm(debuggerDir, { recursive: true, force: true });
  });

  /** One call of each entry point, as a caller; every one would be served to the project's token. */
  const entryPoints = (): Record<
    string,
    (api: ProtocolClient, bearer: string | undefined) => Promise<Outcome>
  > => ({
    "`StartExecution`": (api) =>
      rpcOutcome(() =>
        api.startExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' }),
      ),
    "`StartExecution` (inline blueprint)": (api) =>
      rpcOutcome(() =>
        api.startExecution({ blueprint: { case: "document", value: INLINE }, inputsJson: "{}" }),
      ),
    "`RunExecution`": (api) =>
      rpcOutcome(() =>
        api.runExecution({ blueprint: { case: "blueprintId", value: "sum" }, inputsJson: '{"a":1}' }),
      ),
    "`RunExecution` (inline blueprint)": (api) =>
      rpcOutcome(() =>
        api.runExecution({ blueprint: { case: "document", value: INLINE }, inputsJson: "{}" }),
      ),
    "`WatchExecution`": (api) =>
      rpcOutcome(async () => {
        for await (const _ of api.watchExecution({ executionId })) {
          // the recorded events, then the end
        }
      }),
    "`GetExecution`": (api) => rpcOutcome(() => api.getExecution({ executionId })),
    "`ListExecutions`": (api) => rpcOutcome(() => api.listExecutions({})),
    "`CancelExecution`": (api) => rpcOutcome(() => api.cancelExecution({ executionId })),
    "`ListNodeTypes`": (api) => rpcOutcome(() => api.listNodeTypes({})),
    "`ValidateBlueprint`": (api) =>
      rpcOutcome(() => api.validateBlueprint({ blueprint: { case: "blueprintId", value: "sum" } })),
    "`ListBlueprints`": (api) => rpcOutcome(() => api.listBlueprints({})),
    "`GetBlueprint`": (api) => rpcOutcome(() => api.getBlueprint({ blueprintId: "sum" })),
    "`ReadValue`": (api) =>
      rpcOutcome(async () => {
        for await (const _ of api.readValue({ ref: `executions/${executionId}/outputs/text` })) {
          // the handle, then the bytes
        }
      }),
    "`PreviewValue`": (api) =>
      rpcOutcome(() => api.previewValue({ ref: `executions/${executionId}/outputs/text` })),
    "`ListSchedules`": (api) => rpcOutcome(() => api.listSchedules({})),
    "`ListWorkers`": (api) => rpcOutcome(() => api.listWorkers({})),
    "`UploadValue`": (api) =>
      rpcOutcome(() => api.uploadValue([{ type: "bytes", chunk: new Uint8Array([1, 2, 3]) }])),
    "`ListDeployments`": (api) => rpcOutcome(() => api.unary("listDeployments", {})),
    "`Deploy`": (api) => rpcOutcome(() => api.unary("deploy", { document: INLINE })),
    "`Rollback`": (api) => rpcOutcome(() => api.unary("rollback", { blueprintId: "inline-sum", version: 1 })),
    "`ListSecrets`": (api) => rpcOutcome(() => api.unary("listSecrets", {})),
    "`SetSecret`": (api) => rpcOutcome(() => api.unary("setSecret", { name: "matrix", value: "v" })),
    "`DeleteSecret`": (api) => rpcOutcome(() => api.unary("deleteSecret", { name: "none-such" })),
    "`ListKeys`": (api) => rpcOutcome(() => api.unary("listKeys", {})),
    "`CreateKey`": (api) => rpcOutcome(() => api.unary("createKey", { name: "matrix", role: "viewer" })),
    // A key that does not exist: NOT_FOUND is served; the callers' own keys stay valid.
    "`RevokeKey`": (api) => rpcOutcome(() => api.unary("revokeKey", { id: "0000000000000000" })),
    "`ListAuditEvents`": (api) => rpcOutcome(() => api.unary("listAuditEvents", {})),
    "`VerifyAudit`": (api) => rpcOutcome(() => api.unary("verifyAudit", {})),
    "`POST /hooks/<id>`": (_api, bearer) => httpOutcome(`${fixture.server.url}/hooks/greet`, "POST", bearer),
    "`POST /hooks/<id>` (in `access.publicWebhooks`)": (_api, bearer) =>
      httpOutcome(`${fixture.server.url}/hooks/sum`, "POST", bearer),
    "`GET /` (the debugger's pages and assets)": (_api, bearer) =>
      httpOutcome(`${fixture.server.url}/`, "GET", bearer),
    "`GET /healthz`": (_api, bearer) => httpOutcome(`${fixture.server.url}/healthz`, "GET", bearer),
    "`GET /livez`": (_api, bearer) => httpOutcome(`${fixture.server.url}/livez`, "GET", bearer),
    "`GET /metrics`": (_api, bearer) => httpOutcome(`${fixture.server.url}/metrics`, "GET", bearer),
  });

  it("publishes a row for every RPC of the service and every HTTP entry point, and no other", async () => {
    const matrix = await publishedMatrix();
    const rows = [...matrix.keys()];
    for (const method of ConductorService.methods) {
      expect(rows, `docs/security.md's access matrix has no row for ${method.name}`).toContain(
        `\`${method.name}\``,
      );
    }
    expect(rows.sort()).toEqual(Object.keys(entryPoints()).sort());
  });

  it("serves and refuses every entry point, for every caller, as the matrix says", async () => {
    const matrix = await publishedMatrix();
    const calls = entryPoints();
    const mismatches: string[] = [];
    for (const caller of COLUMNS) {
      const api = protocolClient("connect", fixture.server.url, bearers[caller]);
      try {
        for (const [entry, expected] of matrix) {
          const outcome = await calls[entry]!(api, bearers[caller]);
          if (outcome.refused === expected[caller]) {
            mismatches.push(
              `${entry} as ${caller}: expected ${expected[caller] ? "served" : "refused"}, was ${outcome.refused ? `refused (${outcome.message})` : "served"}`,
            );
          }
          if (outcome.refused) {
            // Nobody is asked to authenticate; a caller with credentials is told what it lacks.
            expect(outcome.message, `${entry} as ${caller}`).toMatch(
              caller === "nobody" ? /^(16|401)/ : /^(7|403)/,
            );
          }
        }
      } finally {
        api.close();
      }
    }
    expect(mismatches).toEqual([]);
  });
});
