import { type ConductorClient, createClient } from "@conductor/sdk/client";

/**
 * The debugger's connection to the host it was served from, and the credential it signs in with. Every call needs
 * one, sent as `Authorization: Bearer <credential>` on every Connect-Web call (the client's interceptor):
 * - the project's token, from the address `conductor serve` prints (`/#token=<token>`, a fragment the browser never
 *   sends to the server), kept in this origin's local storage, so later tabs and reloads of the same server have it
 *   (the project's token outlives the server's restarts);
 * - or what a person pastes in the sign-in view: an API key (`cdk_<id>_<secret>`), an OpenID Connect bearer token, or
 *   the project's token. That is kept in this tab's session storage only: it is a person's credential, gone when the
 *   tab closes or they sign out, never left in the browser's profile for the next user.
 * Storage is per origin: another server, on another port, has its own.
 */
const TOKEN_KEY = "conductor.token";
const SESSION_KEY = "conductor.credential";

/**
 * The credential to start with: one from `#token=...` (then removed from the address bar), else the one signed in
 * with in this tab, else the project's token kept from an earlier link.
 */
export function initialToken(): string | undefined {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match !== null) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]!));
    // A link followed on purpose wins over what this tab signed in with before.
    sessionStorage.removeItem(SESSION_KEY);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(SESSION_KEY) ?? localStorage.getItem(TOKEN_KEY) ?? undefined;
}

/** Signs in with what the user pasted: kept for this tab only. */
export function signIn(credential: string): void {
  sessionStorage.setItem(SESSION_KEY, credential);
}

/** Forgets every credential of this origin: the tab's and the project's token kept from a link. */
export function signOut(): void {
  sessionStorage.removeItem(SESSION_KEY);
  localStorage.removeItem(TOKEN_KEY);
}

/** A client of the host this page came from, over Connect with JSON (readable in the network panel). */
export function connect(token: string | undefined): ConductorClient {
  return createClient({
    baseUrl: location.origin,
    ...(token === undefined ? {} : { token }),
  });
}
