import { resolve } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Conductor } from "../conductor.js";
import type { BlueprintEntry } from "../project/blueprint-catalog.js";

/**
 * Finds the file of a project blueprint by id. Requests name blueprints by id, but the conductor caches prepared
 * blueprints by file path (re-validating when the file changes), so running by path keeps a warm request from
 * listing and parsing the project's files each time. The id → file map is read again whenever an id is not in it.
 */
export interface BlueprintLocator {
  /** The absolute path of the blueprint with this id; NOT_FOUND when the project has none. */
  pathOf(id: string): Promise<string>;
  /** Forgets the map, e.g. after a file turned out to be gone or to hold another id. */
  forget(): void;
}

export function createBlueprintLocator(conductor: Conductor): BlueprintLocator {
  let byId: Promise<Map<string, BlueprintEntry>> | undefined;
  const read = () => {
    byId ??= conductor.blueprints().then((entries) => new Map(entries.map((entry) => [entry.id, entry])));
    return byId;
  };
  return {
    async pathOf(id) {
      let entry = (await read()).get(id);
      if (entry === undefined) {
        byId = undefined;
        entry = (await read()).get(id);
      }
      if (entry === undefined) {
        const known = [...(await read()).keys()];
        throw new ConnectError(
          `the project has no blueprint "${id}"; its blueprints are ${known.map((k) => `"${k}"`).join(", ") || "(none)"}`,
          Code.NotFound,
        );
      }
      return resolve(conductor.project.dir, entry.path);
    },
    forget() {
      byId = undefined;
    },
  };
}
