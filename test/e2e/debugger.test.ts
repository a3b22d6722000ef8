/**
 * The visual debugger in a real browser (Debian's Chromium, driven by playwright-core): open it, choose and run a
 * blueprint, watch its nodes turn running and completed, read a node's output in the side panel, see a failure,
 * and reopen a past execution from the history. Saves screenshots under test-results/.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api/api-fixture.js";
import { launchChromiumWithProfile } from "./chromium.js";

/** How long the page may take to reach a state: generous, because a loaded machine renders slowly (no timing is asserted). */
const PATIENCE = 30_000;
const root = fileURLToPath(new URL("../../", import.meta.url));
const results = join(root, "test-results");
const inspectorNodes = join(root, "test/e2e/fixtures/inspector-nodes.mjs");

describe("the visual debugger", () => {
  let fixture: ApiFixture;
  let context: BrowserContext;
  let page: Page;
  let browser: Awaited<ReturnType<typeof launchChromiumWithProfile>> | undefined;

  beforeAll(async () => {
    // Builds the debugger when its sources changed; a no-op otherwise.
    await promisify(execFile)("bash", [join(root, "scripts/setup-debugger.sh")], { cwd: root });
    // `slow` as the project has it, with a delay long enough that a page on a loaded machine renders it running.
    fixture = await startApiFixture(
      { debuggerDir: join(root, "host/debugger/dist") },
      {
        // The project's own in-process node, for the value inspector: its module imports @conductor/sdk from the
        // repository's node_modules.
        "conductor.yaml": `conductor: project/v1\nblueprints: [.]\nnodes: [${JSON.stringify(inspectorNodes)}]\n`,
        "values.blueprint.yaml": `conductor: blueprint/v1
id: values
inputs:
  name: { schema: { type: string }, default: "city" }
outputs:
  table: sample.table
  story: sample.story
  nested: sample.nested
  id: count.value
nodes:
  sample: { type: inspect.sample, inputs: { name: inputs.name } }
  count: { type: core.passthrough, inputs: { value: sample.id } }
`,
        "large.blueprint.yaml": `conductor: blueprint/v1
id: large
outputs:
  table: large.table
nodes:
  large: { type: inspect.large }
`,
        "slow.blueprint.yaml": `conductor: blueprint/v1
id: slow
inputs:
  value: { schema: { type: string }, default: "late" }
outputs:
  value: wait.value
nodes:
  first: { type: core.passthrough, inputs: { value: inputs.value } }
  wait: { type: core.delay, config: { ms: 2000 }, inputs: { value: first.value } }
`,
      },
    );
    await mkdir(results, { recursive: true });
    browser = await launchChromiumWithProfile({ width: 1400, height: 860 });
    ({ context, page } = browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
  });

  const node = (id: string) => page.locator(`svg.graph [data-node-id="${id}"]`);
  // A bound on waiting for the page, not a measure of it: the first render of a cold browser on a loaded machine
  // can take seconds, more than expect.poll's default second.
  const PATIENT = { timeout: 15_000 };
  const panel = () => page.locator(".side-panel");

  it("runs a chosen blueprint and shows its nodes turn running, then completed", async () => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    // As `conductor serve` prints it: the token in the address's fragment, which never reaches the server.
    await page.goto(`${fixture.server.url}/#token=${fixture.token}`);
    await page.selectOption('select[name="blueprint"]', "slow");
    await expect.poll(() => node("wait").count(), PATIENT).toBe(1);
    expect(await node("wait").getAttribute("data-status")).toBe("idle");
    await page.fill("#input-value", "from the browser");
    // Every status the node shows, in order, as the page renders it (a check after the fact could miss a state).
    // (Script text: it runs in the page, where this file's Node types do not apply.)
    await page.evaluate(`(() => {
      const seen = [];
      window.waitStatuses = seen;
      // The whole page, since a render may replace the node's element.
      new MutationObserver(() => {
        const status = document.querySelector('svg.graph [data-node-id="wait"]')?.getAttribute("data-status") ?? "";
        if (seen.at(-1) !== status) seen.push(status);
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-status"] });
    })()`);
    await page.click("button.run");
    // The 2 s delay is seen running, live, before it completes.
    await node("wait").and(page.locator('[data-status="completed"]')).waitFor({ timeout: PATIENCE });
    const statuses = (await page.evaluate("window.waitStatuses")) as string[];
    expect(statuses.slice(-2)).toEqual(["running", "completed"]);
    expect(await node("first").getAttribute("data-status")).toBe("completed");
    await page.locator('[data-execution-status="completed"]').waitFor();
    expect(await node("wait").textContent()).toMatch(/completed · [\d.]+ m?s/);
    await node("wait").click();
    await expect
      .poll(() => panel().locator('[data-section="outputs"] [data-port="value"] dd').textContent(), PATIENT)
      .toBe("from the browser");
    expect(await panel().locator("h2").textContent()).toMatch(/^wait\s*completed$/);
    await page.screenshot({ path: join(results, "debugger-slow.png") });
    expect(errors).toEqual([]);
  });

  it("builds the form from the input schemas and shows a node's output after a run", async () => {
    await page.selectOption('select[name="blueprint"]', "greet");
    await expect.poll(() => node("render").count(), PATIENT).toBe(1);
    await expect.poll(() => page.locator('svg.graph [data-node-id="inputs"]').count(), PATIENT).toBe(1);
    await page.fill("#input-name", "Ada");
    await page.click("button.run");
    for (const id of ["echo", "render", "shout"]) {
      await node(id).and(page.locator('[data-status="completed"]')).waitFor({ timeout: PATIENCE });
    }
    await node("render").click();
    const outputs = panel().locator('[data-section="outputs"] .port');
    await expect.poll(() => outputs.allTextContents(), PATIENT).toEqual(["textHello, Ada!"]);
    expect(await panel().locator('[data-section="inputs"] .port').allTextContents()).toEqual(["dataAda"]);
    // Each edge is labelled with the ports it joins.
    expect(await page.locator("svg.graph text.edge-label").allTextContents()).toEqual(
      expect.arrayContaining(["name → value", "value → data", "text → value", "value → text"]),
    );
    await page.screenshot({ path: join(results, "debugger.png") });
  });

  it("shows a failed node with its failure", async () => {
    await page.selectOption('select[name="blueprint"]', "broken");
    await expect.poll(() => node("read").count(), PATIENT).toBe(1);
    await page.click("button.run");
    await node("read").and(page.locator('[data-status="failed"]')).waitFor({ timeout: PATIENCE });
    await page.locator('[data-execution-status="failed"]').waitFor();
    await node("read").click();
    await expect
      .poll(() => panel().locator('[data-section="failure"]').first().textContent(), PATIENT)
      .toMatch(/missing\.txt/);
    await page.screenshot({ path: join(results, "debugger-failed.png") });
  });

  it("reopens a past execution from the history with its final states", async () => {
    const greetRun = fixture.conductor.executions.list({ blueprintId: "greet" })[0]!;
    const entry = page.locator(`button[data-execution-id="${greetRun.executionId}"]`);
    await entry.waitFor({ timeout: PATIENCE });
    await entry.click();
    await expect.poll(() => page.locator('select[name="blueprint"]').inputValue(), PATIENT).toBe("greet");
    for (const id of ["echo", "render", "shout"]) {
      await node(id).and(page.locator('[data-status="completed"]')).waitFor({ timeout: PATIENCE });
    }
    await node("shout").click();
    await expect
      .poll(() => panel().locator('[data-section="outputs"] .port').allTextContents(), PATIENT)
      .toEqual(["valueHello, Ada!"]);
  });

  it("opens ?execution=<id> and inspects its values: a table grid, a folded string, nested JSON, int64 numbers", async () => {
    const run = await fixture.conductor.run(await fixture.conductor.loadBlueprint("values"), {
      name: "oslo",
    });
    expect(run.status).toBe("completed");
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on("pageerror", (error) => errors.push(error.message));
    try {
      // A link to the execution, as someone would share it (the token in the fragment, as `serve` prints it).
      await tab.goto(
        `${fixture.server.url}/?execution=${encodeURIComponent(run.executionId)}#token=${fixture.token}`,
      );
      await tab.locator('[data-execution-status="completed"]').waitFor({ timeout: PATIENCE });
      expect(await tab.locator(".execution-status code").textContent()).toContain(run.executionId);
      expect(await tab.locator('select[name="blueprint"]').inputValue()).toBe("values");
      const sampleNode = tab.locator('svg.graph [data-node-id="sample"]');
      await sampleNode.and(tab.locator('[data-status="completed"]')).waitFor({ timeout: PATIENCE });
      expect(await tab.locator("svg.graph text.edge-label").allTextContents()).toEqual(
        expect.arrayContaining(["name → name", "id → value", "table → table", "value → id"]),
      );

      // Without a selection the panel shows the execution's outputs, which are complete: all 150 rows.
      const outputs = tab.locator('.side-panel[data-panel="execution"] [data-section="outputs"]');
      const grid = outputs.locator('[data-port="table"] .grid');
      await grid.waitFor({ timeout: PATIENCE });
      expect(await grid.getAttribute("data-rows")).toBe("150");
      expect(await grid.locator("tbody tr").count()).toBe(150);
      expect(await grid.locator("thead th .column-name").allTextContents()).toEqual([
        "city",
        "visits",
        "share",
      ]);
      expect(await grid.locator("thead th .column-type").allTextContents()).toEqual([
        "utf8",
        "int64",
        "float64",
      ]);
      expect(await grid.locator("tbody tr").nth(1).locator("td").allTextContents()).toEqual([
        "1",
        "oslo-1",
        "9007199254740994",
        "0.25",
      ]);
      expect(await outputs.locator('[data-port="id"] dd').textContent()).toBe("9223372036854775807");
      expect(await outputs.locator('[data-port="id"] .v-number').count()).toBe(1);

      // The node's own values are previews: the first 100 rows of the 150, said so above the grid.
      await sampleNode.click();
      const nodeOutputs = tab.locator('.side-panel[data-panel="node"] [data-section="outputs"]');
      const preview = nodeOutputs.locator('[data-port="table"] .grid');
      await preview.waitFor({ timeout: PATIENCE });
      expect(await preview.getAttribute("data-rows")).toBe("150");
      expect(await preview.locator("tbody tr").count()).toBe(100);
      expect(await preview.locator(".grid-summary").textContent()).toBe(
        "table, 150 rows × 3 columns (the first 100 shown)",
      );

      // The long string starts folded and opens on a click, then folds again.
      const story = nodeOutputs.locator('[data-port="story"] .v-string');
      expect(await story.getAttribute("data-folded")).toBe("true");
      expect(await story.textContent()).not.toContain("the end.");
      await story.locator("button.fold").click();
      await tab.locator('[data-port="story"] .v-string[data-folded="false"]').waitFor({ timeout: PATIENCE });
      expect(await story.textContent()).toContain("the end.");
      await story.locator("button.fold").click();
      await tab.locator('[data-port="story"] .v-string[data-folded="true"]').waitFor({ timeout: PATIENCE });

      // Nested JSON: small levels are open, a large one starts folded and opens level by level.
      const nested = nodeOutputs.locator('[data-port="nested"]');
      expect(await nested.locator('[data-key="deep"] dd').textContent()).toBe("treasure");
      const details = nested.locator('[data-key="details"] > dd > .v-tree');
      expect(await details.getAttribute("data-open")).toBe("false");
      expect(await nested.locator('[data-key="note"]').count()).toBe(0);
      await details.locator(":scope > button.toggle").click();
      await nested
        .locator('[data-key="details"] > dd > .v-tree[data-open="true"]')
        .waitFor({ timeout: PATIENCE });
      expect(await nested.locator('[data-key="note"] .v-string').getAttribute("data-folded")).toBe("true");
      expect(await nested.locator('[data-key="count"] .v-number').textContent()).toBe("-9223372036854775808");
      expect(await nested.locator('[data-key="list"] .v-number').allTextContents()).toEqual(["1", "2", "3"]);
      await tab.screenshot({ path: join(results, "debugger-values.png") });
      expect(errors).toEqual([]);
    } finally {
      await tab.close();
    }
  });

  it("draws a table too large to travel inline as a grid, from the host's bounded preview", async () => {
    const run = await fixture.conductor.run(await fixture.conductor.loadBlueprint("large"), {});
    expect(run.status).toBe("completed");
    const tab = await context.newPage();
    try {
      await tab.goto(
        `${fixture.server.url}/?execution=${encodeURIComponent(run.executionId)}#token=${fixture.token}`,
      );
      await tab.locator('[data-execution-status="completed"]').waitFor({ timeout: PATIENCE });
      const port = tab.locator(
        '.side-panel[data-panel="execution"] [data-section="outputs"] [data-port="table"]',
      );
      // The execution's output comes by handle; the grid is drawn from PreviewValue's first 100 rows.
      await port.locator(".v-handle").waitFor({ timeout: PATIENCE });
      expect(await port.locator(".v-handle").getAttribute("data-ref")).toBe(
        `executions/${run.executionId}/outputs/table`,
      );
      const grid = port.locator(".grid");
      await grid.waitFor({ timeout: PATIENCE });
      expect(await grid.getAttribute("data-rows")).toBe("60000");
      expect(await grid.locator("tbody tr").count()).toBe(100);
      expect(await grid.locator("thead th .column-type").allTextContents()).toEqual(["utf8", "int64"]);
      expect(await grid.locator(".grid-summary").textContent()).toBe(
        "table, 60,000 rows × 2 columns (the first 100 shown)",
      );
      expect(await grid.locator("tbody tr").nth(99).locator("td").allTextContents()).toEqual([
        "99",
        "city-99",
        "9007199254741092",
      ]);
    } finally {
      await tab.close();
    }
  });

  it("asks for the token when it has none, takes it from #token= too, and keeps it for later tabs", async () => {
    const guarded = await startApiFixture({ debuggerDir: join(root, "host/debugger/dist"), token: "s3cret" });
    const tab = await context.newPage();
    try {
      await tab.goto(`${guarded.server.url}/`);
      await tab.locator("form.token-prompt").waitFor({ timeout: PATIENCE });
      await tab.fill('form.token-prompt input[name="token"]', "s3cret");
      await tab.click('form.token-prompt button[type="submit"]');
      await tab.locator('svg.graph [data-node-id="read"]').waitFor({ timeout: PATIENCE });
      expect(await tab.locator("form.token-prompt").count()).toBe(0);

      const fresh = await context.newPage();
      try {
        await fresh.goto(`${guarded.server.url}/?blueprint=chain10#token=s3cret`);
        await fresh.locator('svg.graph [data-node-id="n9"]').waitFor({ timeout: PATIENCE });
        expect(new URL(fresh.url()).hash).toBe("");
      } finally {
        await fresh.close();
      }
      const later = await context.newPage();
      try {
        await later.goto(`${guarded.server.url}/?blueprint=chain10`);
        await later.locator('svg.graph [data-node-id="n9"]').waitFor({ timeout: 5_000 });
        expect(await later.locator("form.token-prompt").count()).toBe(0);
      } finally {
        await later.close();
      }
    } finally {
      await tab.close();
      await guarded.close();
    }
  });
});
