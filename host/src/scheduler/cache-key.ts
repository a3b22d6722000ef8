import {
  bigintReplacement,
  createSha256,
  EncodedValue,
  isArrowTable,
  tableToIpc,
  toLive,
} from "@conductor/sdk/protocol";

/**
 * The result-cache key of a node run: a SHA-256 over the node type, its version, its config and its inputs, each
 * in a canonical form (JSON with sorted keys; bytes, tables and blobs by the hash of their bytes), so the same
 * values give the same key whichever process produced them.
 */
export function cacheKey(
  nodeType: string,
  version: string,
  config: unknown,
  inputs: Record<string, unknown>,
): string {
  const hash = createSha256();
  hash.update(`${nodeType}\0${version}\0`);
  hash.update(canonicalJson(config));
  for (const port of Object.keys(inputs).sort()) {
    hash.update(`\0${port}\0`);
    hash.update(valueDigest(inputs[port]));
  }
  return hash.digestHex();
}

function valueDigest(value: unknown): string {
  if (value instanceof EncodedValue) {
    const kind = value.wire.kind;
    switch (kind.case) {
      case "json":
        return canonicalJson(toLive(value));
      case "raw":
        return `raw:${sha256(kind.value)}`;
      case "arrow":
        return `arrow:${sha256(kind.value)}`;
      case "blob":
        return `${kind.value.encoding}:${kind.value.sha256}`;
      default:
        return "empty";
    }
  }
  if (value instanceof Uint8Array) return `raw:${sha256(value)}`;
  if (isArrowTable(value)) return `arrow:${sha256(tableToIpc(value))}`;
  return canonicalJson(value);
}

function sha256(bytes: Uint8Array): string {
  return createSha256().update(bytes).digestHex();
}

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, item: unknown) => {
    // A bigint is written as its digits, so 9007199254740993 and "9007199254740993" do not share a key.
    if (typeof item === "bigint") return bigintReplacement(item);
    if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort()) sorted[key] = (item as Record<string, unknown>)[key];
    return sorted;
  });
}
