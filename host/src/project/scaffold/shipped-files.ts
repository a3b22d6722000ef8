import { existsSync } from "node:fs";
import { join } from "node:path";
import { hostPackageDir, repositoryPath } from "../../package-dir.js";

/**
 * Files a project points at that ship with the host: the JSON Schemas for editors and the Rust runtime crate. An
 * installed @conductor/host carries them (scripts/pack.mjs puts them in schemas/ and rust/); a checkout of the
 * Conductor repository has them in docs/ and runtimes/rust/. Scaffolds point at whichever this host has, so a
 * project made by an installed host never names a path inside the repository.
 */
export function shippedFile(kind: "blueprint-schema" | "project-schema" | "rust-crate"): string {
  const installed = {
    "blueprint-schema": ["schemas", "blueprint.schema.json"],
    "project-schema": ["schemas", "project.schema.json"],
    "rust-crate": ["rust", "conductor-runtime"],
  }[kind];
  const shipped = join(hostPackageDir(), ...installed);
  if (existsSync(shipped)) return shipped;
  const checkout = {
    "blueprint-schema": ["docs", "blueprint.schema.json"],
    "project-schema": ["docs", "project.schema.json"],
    "rust-crate": ["runtimes", "rust", "conductor-runtime"],
  }[kind];
  return repositoryPath(...checkout);
}
