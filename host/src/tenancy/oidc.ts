import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from "jose";
import type { Identity } from "../api/identity.js";
import { isRole, namespaceProblem, ROLE_PERMISSIONS } from "./roles.js";

/** How the server accepts OpenID Connect bearer tokens (ID or access tokens, as JWTs). */
export interface OidcOptions {
  /** The issuer (`iss`) tokens must come from, e.g. `https://accounts.example.com`. */
  issuer: string;
  /** The audience (`aud`) tokens must be for: this server's client id. */
  audience: string;
  /**
   * Where the issuer publishes its signing keys. Default: the `jwks_uri` of the issuer's
   * `/.well-known/openid-configuration`. Keys are cached and fetched again when a token names a key id the cache
   * lacks (the issuer rotated its keys), at most once per `jwksCooldownMs`.
   */
  jwksUri?: string;
  /** The claim naming the caller's namespace; a token without it is in `default`. Default `conductor_namespace`. */
  namespaceClaim?: string;
  /** The claim naming the caller's role (admin, editor, operator, viewer, worker). Default `conductor_role`. */
  roleClaim?: string;
  /** Default 30 s. */
  jwksCooldownMs?: number;
}

/** A verified caller, or why the token proves none. */
export type OidcResult = Identity | { kind: "unauthenticated"; message: string };

/** Whether a bearer value looks like a JWT (three base64url parts, the first a JSON object). */
export function looksLikeJwt(bearer: string): boolean {
  return bearer.startsWith("eyJ") && /^[\w-]+\.[\w-]+\.[\w-]*$/.test(bearer);
}

/**
 * Verifies OIDC bearer tokens with `jose`: the signature against the issuer's JWKS (following its key rotation), the
 * issuer, the audience, the expiry and not-before times; then maps the namespace and role claims to an identity
 * (`oidc:<sub>`). Every refusal says what was wrong with the token, never what the token held.
 */
export function createOidcVerifier(options: OidcOptions): (token: string) => Promise<OidcResult> {
  const namespaceClaim = options.namespaceClaim ?? "conductor_namespace";
  const roleClaim = options.roleClaim ?? "conductor_role";
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const keySet = async () => {
    if (keys !== undefined) return keys;
    discovering ??= (async () => {
      let uri = options.jwksUri;
      if (uri === undefined) {
        const response = await fetch(`${options.issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
        if (!response.ok) throw new Error(`the issuer's discovery document answered ${response.status}`);
        uri = String(((await response.json()) as { jwks_uri?: unknown }).jwks_uri ?? "");
        if (uri === "") throw new Error("the issuer's discovery document has no jwks_uri");
      }
      keys = createRemoteJWKSet(new URL(uri), { cooldownDuration: options.jwksCooldownMs ?? 30_000 });
      return keys;
    })().catch((error: unknown) => {
      discovering = undefined;
      throw error;
    });
    return discovering;
  };
  const refuse = (message: string): OidcResult => ({ kind: "unauthenticated", message });

  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keySet(), {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: [
          "RS256",
          "RS384",
          "RS512",
          "PS256",
          "PS384",
          "PS512",
          "ES256",
          "ES384",
          "ES512",
          "EdDSA",
        ],
      }));
    } catch (error) {
      return refuse(`the bearer token is not accepted: ${describe(error, options)}`);
    }
    const role = payload[roleClaim];
    if (typeof role !== "string" || !isRole(role)) {
      return refuse(
        `the bearer token's "${roleClaim}" claim must be one of admin, editor, operator, viewer, worker; it is ${role === undefined ? "missing" : JSON.stringify(role).slice(0, 60)}`,
      );
    }
    const namespace = payload[namespaceClaim] ?? "default";
    const problem = typeof namespace === "string" ? namespaceProblem(namespace) : "it is not a string";
    if (problem !== undefined) return refuse(`the bearer token's "${namespaceClaim}" claim: ${problem}`);
    const subject = typeof payload.sub === "string" ? payload.sub.slice(0, 200) : "unknown";
    return {
      name: `oidc:${subject}`,
      permissions: ROLE_PERMISSIONS[role],
      namespace: namespace as string,
      role,
    };
  };
}

function describe(error: unknown, options: OidcOptions): string {
  if (error instanceof errors.JWTExpired) return "it has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "aud") return `it is not for this server's audience "${options.audience}"`;
    if (error.claim === "iss") return `it was not issued by "${options.issuer}"`;
    if (error.claim === "nbf") return "it is not valid yet";
    return `its "${error.claim}" claim is invalid (${error.reason})`;
  }
  if (error instanceof errors.JWKSNoMatchingKey) return "it is signed with a key the issuer does not publish";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "its signature does not verify";
  if (error instanceof errors.JOSEAlgNotAllowed) return "its signing algorithm is not accepted";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid)
    return "it is not a well-formed JWT";
  if (error instanceof errors.JOSEError) return `${error.code}`;
  return `the issuer's keys could not be fetched (${(error as Error).message})`;
}
