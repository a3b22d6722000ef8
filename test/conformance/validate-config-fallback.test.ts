/**
 * ValidateConfig is optional (docs/protocol.md §2): for a runtime that answers UNIMPLEMENTED, the host checks each
 * node's config against the node type's config_schema itself. The runtime here is a bare gRPC server serving only
 * Handshake, ListNodeTypes and Session, attached with CONDUCTOR_REATTACH.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createConductor } from "@conductor/host";
import {
  ENV,
  grpcServiceDefinition,
  HandshakeResponseSchema,
  ListNodeTypesResponseSchema,
  RuntimeService,
} from "@conductor/sdk/protocol";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

describe("a runtime without ValidateConfig", () => {
  let dir: string;
  let server: grpc.Server;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "no-validate-"));
    server = new grpc.Server();
    const definition = grpcServiceDefinition(RuntimeService, { rawMethods: ["session"] });
    server.addService(definition, {
      handshake: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(
          null,
          create(HandshakeResponseSchema, {
            abiVersion: 1,
            runtime: { name: "go", language: "go", version: "0.0.1", pid: process.pid },
            maxConcurrency: 1,
            maxMessageBytes: 1024n * 1024n,
            schemaHash: "x",
          }),
        ),
      listNodeTypes: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(
          null,
          create(ListNodeTypesResponseSchema, {
            nodeTypes: [
              {
                type: "go.fetch",
                version: "1",
                configSchema: JSON.stringify({
                  type: "object",
                  properties: { url: { type: "string" }, retries: { type: "integer", minimum: 0 } },
                  required: ["url"],
                  additionalProperties: false,
                }),
              },
            ],
          }),
        ),
      // Kept open and silent: nothing runs in this test.
      session: () => {},
      // No validateConfig: grpc-js answers UNIMPLEMENTED, as any gRPC server does for a method it does not serve.
    });
    const address = join(dir, "go.sock");
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${address}`, grpc.ServerCredentials.createInsecure(), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    process.env[ENV.reattach] = JSON.stringify({ go: { address, token: "dev" } });
  });

  afterAll(async () => {
    delete process.env[ENV.reattach];
    server.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("gets its nodes' configs checked by the host against config_schema", async () => {
    const conductor = await createConductor({
      builtinNodes: false,
      project: { dir, blueprints: [], nodes: [], runtimes: { go: { kind: "command", command: ["unused"] } } },
    });
    try {
      const blueprint = (config: Record<string, unknown>) => ({
        conductor: "blueprint/v1" as const,
        nodes: { fetch: { type: "go.fetch", config } },
      });
      const invalid = await conductor.validate(blueprint({ retries: -1, mode: "fast" }));
      expect(invalid.valid).toBe(false);
      expect(invalid.diagnostics).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            path: "nodes.fetch.config.url",
            message: 'missing required field "url"',
          }),
          expect.objectContaining({
            path: "nodes.fetch.config.mode",
            message: 'unknown field "mode"; expected one of url, retries',
          }),
          expect.objectContaining({ path: "nodes.fetch.config.retries", message: "must be >= 0, found -1" }),
        ]),
      );
      expect(invalid.diagnostics).toHaveLength(3);
      const valid = await conductor.validate(blueprint({ url: "https://example.com", retries: 2 }));
      expect(valid).toMatchObject({ valid: true, diagnostics: [] });
    } finally {
      await conductor.close();
    }
  });
});
