import { type ConductorClient, createClient } from "@conductor/sdk/client";

/**
 * The debugger's connection to the host it was served from. The host needs no token on loopback; otherwise the
 * token comes from the address (`/#token=<token>`, which the browser never sends to the server) or from the
 * prompt shown after an UNAUTHENTICATED answer, and is kept for this tab only.
 */
const TOKEN_KEY = "conductor.token";

/** Takes a token from `#token=...` (then removes it from the address bar) or from this tab's storage. */
export function initialToken(): string | undefined {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match !== null) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]!));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** Remembers a token typed by the user. */
export function rememberToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** A client of the host this page came from, over Connect with JSON (readable in the network panel). */
export function connect(token: string | undefined): ConductorClient {
  return createClient({
    baseUrl: location.origin,
    ...(token === undefined ? {} : { token }),
  });
}
