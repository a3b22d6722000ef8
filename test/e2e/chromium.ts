/**
 * Debian's Chromium for the browser tests, driven by playwright-core (never a browser a tool downloads), started
 * headless with the flags the project's tests use everywhere.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing; run \`bash scripts/setup.sh\` (it installs Debian's chromium)`);
  }
}

/** A fresh headless Chromium. */
export function launchChromium(): Promise<Browser> {
  requireChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

/** Chromium with a profile of its own (removed by `close`), as a person's browser keeps one, and its first page. */
export async function launchChromiumWithProfile(viewport: {
  width: number;
  height: number;
}): Promise<{ context: BrowserContext; page: Page; close(): Promise<void> }> {
  requireChromium();
  const profile = await mkdtemp(join(tmpdir(), "conductor-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
