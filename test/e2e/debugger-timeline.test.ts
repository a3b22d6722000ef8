/**
 * The debugger's timeline in a real browser (Debian's Chromium, driven by playwright-core): a node that fails once
 * and is retried shows two bars on its row, in order, with the retry delay between them; a running node's bar is
 * there while it runs; clicking a bar selects the node. Saves a screenshot under test-results/.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiFixture, startApiFixture } from "./api/api-fixture.js";
import { launchChromiumWithProfile } from "./chromium.js";

/** How long the page may take to reach a state: generous, for a loaded machine (no timing is asserted). */
const PATIENCE = 30_000;
const root = fileURLToPath(new URL("../../", import.meta.url));
const results = join(root, "test-results");
const timelineNodes = join(root, "test/e2e/fixtures/timeline-nodes.mjs");

describe("the debugger's timeline", () => {
  let fixture: ApiFixture;
  let page: Page;
  let browser: Awaited<ReturnType<typeof launchChromiumWithProfile>> | undefined;

  beforeAll(async () => {
    // Builds the debugger when its sources changed; a no-op otherwise.
    await promisify(execFile)("bash", [join(root, "scripts/setup-debugger.sh")], { cwd: root });
    fixture = await startApiFixture(
      { debuggerDir: join(root, "host/debugger/dist") },
      {
        "conductor.yaml": `conductor: project/v1\nblueprints: [.]\nnodes: [${JSON.stringify(timelineNodes)}]\n`,
        // The delay runs long enough that a page on a loaded machine renders it running.
        "retried.blueprint.yaml": `conductor: blueprint/v1
id: retried
inputs:
  value: { schema: { type: string }, default: "x" }
outputs:
  value: wait.value
nodes:
  flaky:
    type: timeline.fails-once
    inputs: { value: inputs.value }
    retry: { maxAttempts: 2, initialDelayMs: 200, jitter: false }
  wait: { type: core.delay, config: { ms: 3000 }, inputs: { value: flaky.value } }
`,
      },
    );
    await mkdir(results, { recursive: true });
    browser = await launchChromiumWithProfile({ width: 1400, height: 860 });
    ({ page } = browser);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await fixture?.close();
  });

  const row = (id: string) => page.locator(`.timeline-row[data-node-id="${id}"]`);

  it("shows both attempts of a retried node in order, and a running node's bar while it runs", async () => {
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${fixture.server.url}/?blueprint=retried#token=${fixture.token}`);
    await page.locator('svg.graph [data-node-id="wait"]').waitFor({ timeout: PATIENCE });
    await page.click("button.run");
    await page.click('.view-tabs [data-tab="timeline"]');
    // The delay's bar is there, running, while the execution runs.
    await row("wait").locator('.timeline-bar[data-outcome="running"]').waitFor({ timeout: PATIENCE });
    expect(await page.locator(".timeline").getAttribute("data-timeline")).toBe("running");
    const flakyBars = row("flaky").locator(".timeline-bar");
    expect(
      await flakyBars.evaluateAll((bars) => bars.map((bar) => bar.getAttribute("data-attempt"))),
    ).toEqual(["1", "2"]);
    expect(
      await flakyBars.evaluateAll((bars) => bars.map((bar) => bar.getAttribute("data-outcome"))),
    ).toEqual(["retried", "completed"]);
    // In order on the axis: the retry starts after the first attempt, and the retry delay is drawn between them.
    const styles = await flakyBars.evaluateAll((bars) => bars.map((bar) => bar.getAttribute("style") ?? ""));
    const lefts = styles.map((style) => Number.parseFloat(/left:\s*([\d.]+)%/.exec(style)?.[1] ?? "NaN"));
    expect(lefts[1]!).toBeGreaterThan(lefts[0]!);
    expect(await row("flaky").locator('.timeline-wait[data-wait="retry"]').count()).toBe(1);
    expect(await flakyBars.first().getAttribute("title")).toMatch(
      /flaky \(timeline\.fails-once\)\nattempt 1: retried/,
    );
    await page.screenshot({ path: join(results, "debugger-timeline-running.png") });

    // When it finishes the running bar ends, completed.
    await page.locator('.timeline[data-timeline="finished"]').waitFor({ timeout: PATIENCE });
    expect(
      await row("wait")
        .locator(".timeline-bar")
        .evaluateAll((bars) => bars.map((bar) => bar.getAttribute("data-outcome"))),
    ).toEqual(["completed"]);

    // Clicking a bar selects its node, as the graph does.
    await flakyBars.nth(1).click();
    await expect
      .poll(() => page.locator(".side-panel h2").textContent(), { timeout: 15_000 })
      .toMatch(/^flaky/);
    expect(await row("flaky").getAttribute("class")).toMatch(/selected/);
    await page.screenshot({ path: join(results, "debugger-timeline.png") });
    expect(errors).toEqual([]);
  });

  it("replays a past execution's timeline from its recorded events", async () => {
    const run = fixture.conductor.executions.list({ blueprintId: "retried" })[0]!;
    await page.goto(`${fixture.server.url}/?execution=${run.executionId}#token=${fixture.token}`);
    await page.locator('[data-execution-status="completed"]').waitFor({ timeout: PATIENCE });
    await page.click('.view-tabs [data-tab="timeline"]');
    await page.locator('.timeline[data-timeline="finished"]').waitFor({ timeout: PATIENCE });
    const outcomes = (id: string) =>
      row(id)
        .locator(".timeline-bar")
        .evaluateAll((bars) => bars.map((bar) => bar.getAttribute("data-outcome")));
    expect(await outcomes("flaky")).toEqual(["retried", "completed"]);
    expect(await outcomes("wait")).toEqual(["completed"]);
    expect(
      await page
        .locator(".timeline-row")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-node-id"))),
    ).toEqual(["flaky", "wait"]);
  });
});
