/**
 * Signing in to the debugger: the view shown while the server refuses the page's credential (none yet, or one that
 * expired, was revoked or is not trusted), and the header's "signed in as" with its sign-out button.
 *
 * OpenID Connect in the browser is "paste a bearer token": an authorization-code flow would need the identity
 * provider to know this page as a client and redirect back to it, which a server on a developer's port cannot
 * promise (docs/security.md, "The debugger").
 */

import { describeCredential } from "./credential.js";

/**
 * The sign-in view. `refused` is the server's reason for refusing the credential the page sent, shown as it says it
 * (expired, revoked, wrong audience, ...); undefined when the page had none.
 */
export function SignIn({
  refused,
  onSignIn,
}: {
  refused: string | undefined;
  onSignIn(credential: string): void;
}) {
  return (
    <form
      class="sign-in token-prompt"
      onSubmit={(event) => {
        event.preventDefault();
        const value = new FormData(event.currentTarget).get("token")?.toString().trim() ?? "";
        if (value !== "") onSignIn(value);
      }}
    >
      <h2>Sign in</h2>
      {refused === undefined ? null : (
        <p class="sign-in-refused" role="alert">
          The server refused the credential: {refused}
        </p>
      )}
      <p>
        This server needs a credential. Paste an API key (<code>conductor keys create --role viewer</code>{" "}
        prints one once), a bearer token from your organisation's identity provider (for this server's
        audience), or the project's token (in <code>.conductor/api-token</code>, or open the address{" "}
        <code>conductor serve</code> printed).
      </p>
      <label>
        Credential <input name="token" type="password" autoComplete="off" size={48} required />
      </label>{" "}
      <button type="submit">Sign in</button>
      <p class="muted">Kept in this tab only, until you sign out or close it.</p>
    </form>
  );
}

/** The header's account: who the page is signed in as, and signing out. */
export function SignedIn({ credential, onSignOut }: { credential: string; onSignOut(): void }) {
  return (
    <span class="signed-in">
      <span class="muted">signed in with {describeCredential(credential)}</span>{" "}
      <button type="button" class="sign-out" onClick={onSignOut}>
        Sign out
      </button>
    </span>
  );
}

/** What a refusal for want of a role adds to the server's message (which names the roles that may). */
export const ROLE_HINT =
  "Sign out and sign in with a credential of one of those roles, or ask an admin of the namespace for one.";
