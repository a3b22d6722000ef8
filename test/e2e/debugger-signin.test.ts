/**
 * Signing in to the visual debugger with API keys, in a real browser (Debian's Chromium, driven by playwright-core),
 * against `conductor serve` as a user runs it: the page asks for a credential, says why one was refused, sends the
 * one signed in with on every API call, keeps it in the tab's session storage only, names the roles that may when a
 * viewer tries to start an execution, and signs out.
 */
import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ExecutionStatus } from "@conductor/sdk/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ListeningServe, serveEnvironment, startServe } from "../fixtures/serve-process.js";
import { writeProject } from "./api/api-fixture.js";
import { protocolClient } from "./api/protocol-clients.js";
import { launchChromiumWithProfile } from "./chromium.js";

/** A bound on waiting for the page (a loaded machine renders slowly); no timing is asserted. */
const PATIENCE = 30_000;
const root = fileURLToPath(new URL("../../", import.meta.url));
const cli = join(root, "host/bin/conductor.js");
const env = serveEnvironment();

async function conductor(args: string[], cwd: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [cli, ...args], { cwd, env });
  return stdout;
}

async function createKey(dir: string, role: string): Promise<{ id: string; key: string }> {
  return JSON.parse(await conductor(["keys", "create", "--role", role, "--json"], dir)) as {
    id: string;
    key: string;
  };
}

describe("signing in to the debugger", () => {
  let dir: string;
  let served: ListeningServe | undefined;
  let browser: Awaited<ReturnType<typeof launchChromiumWithProfile>> | undefined;
  const keys: Record<"viewer" | "operator" | "revoked", { id: string; key: string }> = {
    viewer: { id: "", key: "" },
    operator: { id: "", key: "" },
    revoked: { id: "", key: "" },
  };

  beforeAll(async () => {
    // Builds the debugger when its sources changed; a no-op otherwise.
    await promisify(execFile)("bash", [join(root, "scripts/setup-debugger.sh")], { cwd: root });
    dir = await writeProject();
    keys.viewer = await createKey(dir, "viewer");
    keys.operator = await createKey(dir, "operator");
    keys.revoked = await createKey(dir, "operator");
    await conductor(["keys", "revoke", keys.revoked.id], dir);
    served = await startServe(dir);
    browser = await launchChromiumWithProfile({ width: 1400, height: 860 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a viewer sees executions but is refused a start with the roles named; an operator can start", async () => {
    const { url } = served!;
    const { page } = browser!;
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    // Every API call the page makes, with the credential it carried.
    const calls: Array<{ method: string; authorization: string | undefined }> = [];
    page.on("request", (request) => {
      const path = new URL(request.url()).pathname;
      if (path.startsWith("/conductor.api.v1.ConductorService/")) {
        calls.push({ method: path.split("/").at(-1)!, authorization: request.headers().authorization });
      }
    });

    // An execution of the namespace, started with the project's token, for the viewer to see.
    const token = (await readFile(join(dir, ".conductor", "api-token"), "utf8")).trim();
    const api = protocolClient("connect", url, token);
    const earlier = await api.runExecution({
      blueprint: { case: "blueprintId", value: "greet" },
      inputsJson: JSON.stringify({ name: "Ada" }),
    });
    expect(earlier.status).toBe(ExecutionStatus.COMPLETED);
    api.close();

    const signIn = async (key: string) => {
      await page.locator("form.sign-in").waitFor({ timeout: PATIENCE });
      await page.fill('form.sign-in input[name="token"]', key);
      await page.click('form.sign-in button[type="submit"]');
    };
    const storage = () =>
      page.evaluate(() => ({
        session: sessionStorage.getItem("conductor.credential"),
        local: localStorage.getItem("conductor.token"),
      }));

    // Without a credential the page asks for one.
    await page.goto(`${url}/?blueprint=greet`);
    await page.locator("form.sign-in").waitFor({ timeout: PATIENCE });
    expect(await page.locator(".signed-in").count()).toBe(0);

    // A revoked key is refused, and the page says why.
    await signIn(keys.revoked.key);
    await page.locator(".sign-in-refused").waitFor({ timeout: PATIENCE });
    expect(await page.locator(".sign-in-refused").textContent()).toBe(
      'The server refused the credential: the API key in the "Authorization: Bearer" header is revoked; ask an admin of its namespace for a new one',
    );

    // A viewer sees the blueprint and the namespace's executions.
    await signIn(keys.viewer.key);
    await page.locator('svg.graph [data-node-id="render"]').waitFor({ timeout: PATIENCE });
    await page
      .locator(`ol.history [data-execution-id="${earlier.executionId}"]`)
      .waitFor({ timeout: PATIENCE });
    expect(await page.locator("form.sign-in").count()).toBe(0);
    expect(await page.locator(".signed-in .muted").textContent()).toBe(
      `signed in with API key ${keys.viewer.id}`,
    );
    // Kept for this tab only.
    expect(await storage()).toEqual({ session: keys.viewer.key, local: null });

    // Starting is refused, naming the caller's role and the roles that may.
    await page.fill("#input-name", "Grace");
    await page.click("button.run");
    await page.locator(".problem").waitFor({ timeout: PATIENCE });
    expect(await page.locator(".problem b").textContent()).toBe(
      `caller "key:${keys.viewer.id}" (role viewer) may not call StartExecution: it needs the "run" permission, which the roles operator, editor and admin have`,
    );
    expect(await page.locator(".problem li").textContent()).toContain(
      "Sign out and sign in with a credential",
    );

    // Signing out forgets the credential and asks again.
    await page.click("button.sign-out");
    await page.locator("form.sign-in").waitFor({ timeout: PATIENCE });
    expect(await page.locator(".sign-in-refused").count()).toBe(0);
    expect(await storage()).toEqual({ session: null, local: null });

    // An operator starts the blueprint and sees it complete.
    const before = calls.length;
    await signIn(keys.operator.key);
    await page.locator('svg.graph [data-node-id="render"]').waitFor({ timeout: PATIENCE });
    await page.fill("#input-name", "Grace");
    await page.click("button.run");
    await page.locator('.execution-status[data-execution-status="completed"]').waitFor({ timeout: PATIENCE });
    expect(await page.locator(".problem").count()).toBe(0);

    // Every call since signing in carried the operator's key: the start, the watch, the reads.
    const since = calls.slice(before);
    expect(since.map((call) => call.method)).toEqual(
      expect.arrayContaining(["ListBlueprints", "GetBlueprint", "StartExecution", "WatchExecution"]),
    );
    expect(since.filter((call) => call.authorization !== `Bearer ${keys.operator.key}`)).toEqual([]);

    // A reload of the tab keeps the credential (session storage lives as long as the tab).
    await page.reload();
    await page.locator(".signed-in").waitFor({ timeout: PATIENCE });
    expect(await page.locator(".signed-in .muted").textContent()).toBe(
      `signed in with API key ${keys.operator.id}`,
    );
    expect(errors).toEqual([]);
  });
});
