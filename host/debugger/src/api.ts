import { type ConductorClient, createClient } from "@conductor/sdk/client";

/**
 * The debugger's connection to the host it was served from. Every call needs the host's token: it comes from the
 * address `conductor serve` prints (`/#token=<token>`, a fragment the browser never sends to the server) or from
 * the prompt shown after an UNAUTHENTICATED answer, and is kept in this origin's storage, so later tabs and
 * reloads of the same server have it (the project's token outlives the server's restarts). Storage is per origin:
 * another server, on another port, has its own.
 */
const TOKEN_KEY = "conductor.token";

/** Takes a token from `#token=...` (then removes it from the address bar) or from this origin's storage. */
export function initialToken(): string | undefined {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match !== null) {
    rememberToken(decodeURIComponent(match[1]!));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** Remembers a token typed by the user or taken from the address. */
export function rememberToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

/** A client of the host this page came from, over Connect with JSON (readable in the network panel). */
export function connect(token: string | undefined): ConductorClient {
  return createClient({
    baseUrl: location.origin,
    ...(token === undefined ? {} : { token }),
  });
}
