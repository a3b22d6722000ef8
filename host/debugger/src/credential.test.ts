import { describe, expect, it } from "vitest";
import { describeCredential } from "./credential.js";

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", kid: "k1" })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe("describeCredential()", () => {
  it("names an API key by its id, never its secret", () => {
    expect(describeCredential("cdk_0123456789abcdef_S3cr3t-part_with_underscores")).toBe(
      "API key 0123456789abcdef",
    );
  });

  it("names an OIDC token by its subject, role and namespace claims", () => {
    expect(
      describeCredential(
        jwt({ sub: "ada@example.com", conductor_role: "operator", conductor_namespace: "team-a" }),
      ),
    ).toBe("OIDC token of ada@example.com, role operator, namespace team-a");
    expect(describeCredential(jwt({ sub: "grace" }))).toBe("OIDC token of grace");
  });

  it("calls anything else a token", () => {
    expect(describeCredential("s3cret")).toBe("a token");
    expect(describeCredential("a.b.c")).toBe("a token");
  });
});
