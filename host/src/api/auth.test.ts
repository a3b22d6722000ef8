import { ConductorService } from "@conductor/sdk/client";
import { Code, ConnectError, createHandlerContext } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { authorize, createAuthPolicy, createRequestGate, isAuthProblem } from "./auth.js";
import { ANONYMOUS, IDENTITY, type Identity, METHOD_PERMISSIONS, TOKEN_HOLDER } from "./identity.js";

/** A handler context of one method of the service, with these request headers. */
function contextOf(methodName: string, headers: Record<string, string>) {
  const method = ConductorService.methods.find((candidate) => candidate.name === methodName)!;
  return createHandlerContext({
    service: ConductorService,
    method,
    protocolName: "connect",
    requestMethod: "POST",
    url: `http://localhost/${ConductorService.typeName}/${methodName}`,
    requestHeader: headers,
  });
}

describe("createAuthPolicy()", () => {
  const policy = createAuthPolicy({ token: "s3cret", tokenHint: "it is in .conductor/api-token" });

  it("proves the token holder from a Bearer header, in any case of the scheme", () => {
    expect(policy.authenticate("Bearer s3cret")).toBe(TOKEN_HOLDER);
    expect(policy.authenticate("bearer   s3cret ")).toBe(TOKEN_HOLDER);
  });

  it("says what is wrong with a missing, malformed or wrong header", async () => {
    expect(policy.authenticate(undefined)).toEqual({
      kind: "unauthenticated",
      message:
        'this server requires a token: send the header "Authorization: Bearer <token>" (it is in .conductor/api-token)',
    });
    expect(policy.authenticate("Basic czNjcmV0")).toEqual({
      kind: "unauthenticated",
      message: 'the Authorization header must be "Bearer <token>"',
    });
    for (const header of ["Bearer s3cre", "Bearer s3cret!", "Bearer S3CRET"]) {
      const result = await policy.authenticate(header);
      expect(isAuthProblem(result) && result.message, header).toBe(
        'wrong token in the "Authorization: Bearer" header',
      );
    }
  });

  it("cannot be made without a token", () => {
    expect(() => createAuthPolicy({ token: "" })).toThrow("an API server's token cannot be empty");
  });
});

describe("authorize()", () => {
  it("lets an identity do what its permissions allow, and names what is missing otherwise", () => {
    const reader: Identity = {
      name: "ci-reader",
      permissions: new Set(["read"]),
      namespace: "default",
      role: "viewer",
    };
    expect(authorize(reader, "read", "call ListExecutions")).toBeUndefined();
    expect(authorize(reader, "run", "call RunExecution")).toEqual({
      kind: "permission_denied",
      message:
        'caller "ci-reader" (role viewer) may not call RunExecution: it needs the "run" permission, which the roles operator, editor and admin have',
    });
    expect(authorize(ANONYMOUS, "run", 'run blueprint "sum"')?.message).toBe(
      'an anonymous caller may not run blueprint "sum": it needs the "run" permission, which the roles operator, editor and admin have',
    );
  });
});

describe("METHOD_PERMISSIONS", () => {
  it("names a permission for every RPC of the service, and nothing else", () => {
    expect(Object.keys(METHOD_PERMISSIONS).sort()).toEqual(
      ConductorService.methods.map((method) => method.name).sort(),
    );
  });
});

describe("createRequestGate()", () => {
  const gate = createRequestGate(createAuthPolicy({ token: "s3cret" }));

  it("leaves the token holder's identity for the method", () => {
    const context = contextOf("RunExecution", { authorization: "Bearer s3cret" });
    void gate(context);
    expect(context.values.get(IDENTITY)).toBe(TOKEN_HOLDER);
  });

  it("refuses a call without the token with UNAUTHENTICATED and a WWW-Authenticate header", () => {
    const context = contextOf("ListBlueprints", {});
    let error: unknown;
    try {
      void gate(context);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unauthenticated);
    expect(context.responseHeader.get("www-authenticate")).toBe('Bearer realm="conductor"');
    expect(context.values.get(IDENTITY)).toBe(ANONYMOUS);
  });

  it("refuses an identity whose permissions do not cover the method with PERMISSION_DENIED", () => {
    const readOnly: Identity = {
      name: "viewer",
      permissions: new Set(["read"]),
      namespace: "default",
      role: "viewer",
    };
    const readOnlyGate = createRequestGate({ authenticate: () => readOnly });
    expect(() => readOnlyGate(contextOf("ListExecutions", {}))).not.toThrow();
    expect(() => readOnlyGate(contextOf("CancelExecution", {}))).toThrow(
      'caller "viewer" (role viewer) may not call CancelExecution: it needs the "cancel" permission, which the roles operator, editor and admin have',
    );
    const refused = (() => {
      try {
        void readOnlyGate(contextOf("StartExecution", {}));
        return undefined;
      } catch (error) {
        return error as ConnectError;
      }
    })();
    expect(refused?.code).toBe(Code.PermissionDenied);
  });
});
