import { readFile, writeFile } from "node:fs/promises";
import { type Document, isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from "yaml";
import { ConductorError } from "../../errors.js";

/**
 * conductor.yaml as a YAML document that keeps its comments and layout, for the edits `conductor new node` makes:
 * a module added to a list, a runtime added. Because the file is the user's, only the lists and maps edited change;
 * everything else is written back as it was.
 */
export interface ProjectEdit {
  /** The runtimes of the file, by name, as plain data. */
  runtimes(): Record<string, Record<string, unknown>>;
  /**
   * Appends `value` to the list at `path` (e.g. ["runtimes", "python", "modules"]), creating it when absent; a
   * value already in the list is not added twice.
   */
  append(path: readonly string[], value: string): void;
  /** Adds a runtime under `runtimes:`. */
  addRuntime(name: string, spec: Record<string, unknown>, comment: string): void;
  /** Writes the file. */
  save(): Promise<void>;
}

/** Opens conductor.yaml for editing; a file that does not parse is refused, so nothing is written over it. */
export async function editProject(file: string): Promise<ProjectEdit> {
  const document: Document = parseDocument(await readFile(file, "utf8"));
  if (document.errors.length > 0) {
    throw new ConductorError(
      "project_invalid",
      `project file ${file} is not valid YAML (${document.errors[0]!.message.split("\n")[0]}); fix it, then run the command again`,
    );
  }
  return {
    runtimes: () => {
      const runtimes = document.get("runtimes");
      return isMap(runtimes) ? (runtimes.toJSON() as Record<string, Record<string, unknown>>) : {};
    },
    append: (path, value) => {
      const list = document.getIn(path);
      if (isSeq(list)) {
        if (!(list as YAMLSeq).toJSON().includes(value)) (list as YAMLSeq).add(document.createNode(value));
        return;
      }
      if (list !== undefined && list !== null) {
        throw new ConductorError(
          "project_invalid",
          `project file ${file}: ${path.join(".")} is not a list; make it one, then run the command again`,
        );
      }
      const created = document.createNode([value]) as YAMLSeq;
      created.flow = true;
      document.setIn(path, created);
    },
    addRuntime: (name, spec, comment) => {
      let runtimes = document.get("runtimes");
      if (runtimes === undefined || runtimes === null) {
        document.set("runtimes", document.createNode({}));
        runtimes = document.get("runtimes");
        (runtimes as YAMLMap).flow = false;
      }
      const node = document.createNode(spec) as YAMLMap;
      for (const item of node.items) {
        if (isSeq(item.value)) item.value.flow = true;
      }
      (runtimes as YAMLMap).set(document.createNode(name), node);
      const pair = (runtimes as YAMLMap).items.at(-1)!;
      (pair.key as { commentBefore?: string }).commentBefore = ` ${comment}`;
    },
    save: () => writeFile(file, document.toString({ lineWidth: 0, flowCollectionPadding: false })),
  };
}
