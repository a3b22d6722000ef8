/**
 * The end-to-end tests run the `conductor` command as users do, from the CLI's bundle. Bundling takes well under a
 * second, so it is redone before every run: the tests never exercise a bundle older than the build.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL("../../scripts/bundle-cli.mjs", import.meta.url))], {
    stdio: "inherit",
  });
}
