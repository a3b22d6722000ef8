/*
 * Secret references in a node's config, `{ $secret: <name> }`, as validation sees them: the part of secrets that
 * the engine's core needs, apart from secrets.ts (the key ring, the sealed store, files and crypto), which only the
 * Node host has.
 */

/** The reference to a secret in a node's config: `{ $secret: <name> }`. */
export function secretReference(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== "$secret") return undefined;
  const name = (value as { $secret: unknown }).$secret;
  return typeof name === "string" ? name : undefined;
}

/** Whether a config holds a secret reference anywhere. */
export function hasSecretReference(value: unknown): boolean {
  if (secretReference(value) !== undefined) return true;
  if (typeof value !== "object" || value === null) return false;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    if (hasSecretReference(item)) return true;
  }
  return false;
}

/** The config with every secret reference replaced by `replace(name)`. */
export function replaceSecretReferences(value: unknown, replace: (name: string) => string): unknown {
  const name = secretReference(value);
  if (name !== undefined) return replace(name);
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => replaceSecretReferences(item, replace));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = replaceSecretReferences(item, replace);
  return out;
}

/** What stands for a secret where its value must not appear (validation, redacted messages). */
export function secretPlaceholder(name: string): string {
  return `[secret ${name}]`;
}
