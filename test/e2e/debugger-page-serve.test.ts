/**
 * The debugger a server serves (`conductor serve`, `conductor dev`), switched to "run in this page": the opened
 * blueprint runs with the engine in the page, with the server's outputs and no request to the server while it runs;
 * a blueprint with a node only the server can run is refused, naming the node, its type and its runtime.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api/api-fixture.js";
import { launchChromiumWithProfile } from "./chromium.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const inspectorNodes = join(root, "test/e2e/fixtures/inspector-nodes.mjs");
const PATIENT = { timeout: 30_000 };

const IN_PAGE = `conductor: blueprint/v1
id: in-page
inputs:
  scores: { schema: { type: array, items: { type: number } }, default: [12, 88, 51, 97] }
outputs:
  summary: summary.result
  text: text.text
nodes:
  summary:
    type: core.json-transform
    config: { expression: "{ 'count': $count($[$ > 50]), 'best': $max($) }" }
    inputs: { data: inputs.scores }
  text:
    type: core.template
    config: { template: "{{count}} above 50, the best {{best}}" }
    inputs: { data: summary.result }
`;

describe("the debugger's page mode from a server", () => {
  let fixture: ApiFixture;
  let page: Page;
  let browser: Awaited<ReturnType<typeof launchChromiumWithProfile>> | undefined;
  const apiRequests: string[] = [];

  beforeAll(async () => {
    // Builds the debugger when its sources (or the engine it bundles) changed; a no-op otherwise.
    await promisify(execFile)("bash", [join(root, "scripts/setup-debugger.sh")], { cwd: root });
    fixture = await startApiFixture(
      { debuggerDir: join(root, "host/debugger/dist") },
      {
        "conductor.yaml": `conductor: project/v1\nblueprints: [.]\nnodes: [${JSON.stringify(inspectorNodes)}]\n`,
        "in-page.blueprint.yaml": IN_PAGE,
        "values.blueprint.yaml": `conductor: blueprint/v1
id: values
inputs:
  name: { schema: { type: string }, default: "city" }
outputs:
  id: count.value
nodes:
  sample: { type: inspect.sample, inputs: { name: inputs.name } }
  count: { type: core.passthrough, inputs: { value: sample.id } }
`,
      },
    );
    browser = await launchChromiumWithProfile({ width: 1400, height: 860 });
    page = browser.page;
    page.on("request", (request) => {
      if (request.url().includes("/conductor.api.v1.")) apiRequests.push(request.url());
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
  });

  it("runs the opened blueprint in the page with the server's outputs, asking nothing of the server", async () => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${fixture.server.url}/#token=${fixture.token}`);
    await page.selectOption('select[name="blueprint"]', "in-page");
    await page.locator('svg.graph [data-node-id="text"]').waitFor(PATIENT);
    await page.click("button.page-mode");
    await page.locator('.app[data-mode="page"] svg.graph [data-node-id="text"]').waitFor(PATIENT);
    expect(await page.locator(".badge.page-mode").textContent()).toBe("runs in this page");

    const before = apiRequests.length;
    await page.click("button.run");
    // The end of the run, or a problem the page shows instead (then its text is the failure's message).
    const ended = page.locator(
      '[data-execution-status="completed"], [data-execution-status="failed"], .problem[role="alert"]',
    );
    await ended.first().waitFor(PATIENT);
    expect(await page.locator('.problem[role="alert"]').allTextContents()).toEqual([]);
    expect(await page.locator("[data-execution-status]").getAttribute("data-execution-status")).toBe(
      "completed",
    );
    expect(apiRequests.slice(before)).toEqual([]);
    expect(await page.locator('svg.graph [data-node-id="text"]').getAttribute("data-status")).toBe(
      "completed",
    );
    const outputs = JSON.parse((await page.locator("[data-execution-status]").getAttribute("data-outputs"))!);
    const inHost = await fixture.conductor.run(join(fixture.dir, "in-page.blueprint.yaml"));
    expect(inHost.status).toBe("completed");
    expect(outputs).toEqual(inHost.outputs);
    expect(outputs).toEqual({ summary: { count: 3, best: 97 }, text: "3 above 50, the best 97" });

    // Back to the server's debugger, where the blueprint is as it was.
    await page.click("button.leave-page-mode");
    await page.locator('.app:not([data-mode]) select[name="blueprint"]').waitFor(PATIENT);
    expect(errors).toEqual([]);
  });

  it("refuses a blueprint with a node only the server runs, naming the node, its type and its runtime", async () => {
    await page.goto(`${fixture.server.url}/#token=${fixture.token}`);
    await page.selectOption('select[name="blueprint"]', "values");
    await page.locator('svg.graph [data-node-id="sample"]').waitFor(PATIENT);
    await page.click("button.page-mode");
    const alert = page.locator('.problem[role="alert"]');
    await alert.waitFor(PATIENT);
    expect(await alert.locator("b").textContent()).toBe(
      'blueprint "values" cannot run in this page, which runs built-in nodes only: one node needs the server',
    );
    expect(await alert.locator("li").allTextContents()).toEqual([
      'node "sample" (type "inspect.sample") runs in runtime "builtin" on the server: the project\'s TypeScript modules and Node-only built-ins (files, shell) are not in this page',
    ]);
    expect(await page.locator('.app[data-mode="page"]').count()).toBe(0);
  });
});
