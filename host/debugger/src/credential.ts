/** Who a credential is, as far as the page can tell without asking the server. */
export function describeCredential(credential: string): string {
  const key = /^cdk_([A-Za-z0-9]+)_/.exec(credential);
  if (key !== null) return `API key ${key[1]}`;
  const parts = credential.split(".");
  if (parts.length === 3) {
    try {
      const claims = JSON.parse(
        atob(
          parts[1]!
            .replace(/-/g, "+")
            .replace(/_/g, "/")
            .padEnd(Math.ceil(parts[1]!.length / 4) * 4, "="),
        ),
      ) as { sub?: unknown; conductor_role?: unknown; conductor_namespace?: unknown };
      const role = typeof claims.conductor_role === "string" ? `, role ${claims.conductor_role}` : "";
      const namespace =
        typeof claims.conductor_namespace === "string" ? `, namespace ${claims.conductor_namespace}` : "";
      return `OIDC token of ${typeof claims.sub === "string" ? claims.sub : "(no subject)"}${role}${namespace}`;
    } catch {
      // Not a JWT after all: the server will say what it is.
    }
  }
  return "a token";
}
