/**
 * @conductor/sdk/client: a TypeScript client of the Conductor API (`conductor serve`), for browsers and Node,
 * with the generated messages of `conductor.api.v1`.
 *
 * @example
 * import { createClient, parseJsonObject } from "@conductor/sdk/client";
 * const client = createClient({ baseUrl: "http://127.0.0.1:7070" });
 * const run = await client.runExecution({ blueprint: { case: "blueprintId", value: "hello" }, inputsJson: "{}" });
 * console.log(run.status, parseJsonObject(run.outputsJson));
 */
export { Code, ConnectError } from "@connectrpc/connect";
export * from "../gen/conductor/api/v1/api_pb.js";
export type { ClientOptions, ConductorClient } from "./create-client.js";
export { bearerToken, createClient, createTransport } from "./create-client.js";
export { parseJson, parseJsonObject, toJson } from "./json-values.js";
export type { ValueHandle } from "./value-transfer.js";
export { isValueHandle, readValue, readValueChunks, uploadValue } from "./value-transfer.js";
