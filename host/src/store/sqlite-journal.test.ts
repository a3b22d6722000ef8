import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mathNodes from "../../../test/fixtures/nodes/math-nodes.js";
import * as policyNodes from "../../../test/fixtures/nodes/policy-nodes.js";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { type Conductor, createConductor } from "../conductor.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import { CHECKPOINT_THREAD_AFTER_COMMITS, JOURNAL_FORMAT, Journal } from "./sqlite-journal.js";

const nodes = [...Object.values(mathNodes), ...Object.values(policyNodes)].filter(
  (value) => typeof value === "object" && value !== null && "kind" in value,
) as never[];

const chain: BlueprintDocument = {
  conductor: "blueprint/v1",
  id: "chain",
  inputs: { x: { schema: { type: "integer" } } },
  outputs: { y: "c.y", bytes: "raw.value" },
  nodes: {
    a: { type: "test.add-one", inputs: { x: "inputs.x" } },
    b: { type: "test.square", cache: true, inputs: { x: "a.x" } },
    c: { type: "test.square", inputs: { x: "b.y" } },
    raw: { type: "test.sleep", config: { ms: 0 }, inputs: { value: { value: "text" } } },
  },
};

describe("the journal", () => {
  let dir: string;
  const open = (): Promise<Conductor> =>
    createConductor({
      nodes,
      journal: join(dir, ".conductor", "journal.db"),
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "journal-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("records executions so another host process reads their history, nodes and results", async () => {
    const first = await open();
    const result = await first.run(chain, { x: 2 });
    await first.close();

    const second = await open();
    const [summary] = second.executions.list();
    expect(summary).toMatchObject({
      executionId: result.executionId,
      blueprintId: "chain",
      status: "completed",
    });
    const detail = second.executions.get(result.executionId)!;
    expect(detail.inputs).toEqual({ x: 2 });
    expect(detail.nodes.b).toMatchObject({
      status: "completed",
      inputs: { x: 3 },
      outputs: { y: 9 },
      attempt: 1,
    });
    expect(detail.outputs).toEqual({ y: 81, bytes: "text" });
    const events = [];
    second.executions.subscribe(result.executionId, (event) => events.push(event));
    expect(events.length).toBeGreaterThan(8);
    await second.close();
  });

  it("passes on the events of an execution another host runs on the same journal, as they are recorded", async () => {
    const runner = await open();
    const watcher = await open();
    try {
      const slow: BlueprintDocument = {
        conductor: "blueprint/v1",
        id: "slow",
        outputs: { value: "c.value" },
        nodes: {
          a: { type: "test.sleep", config: { ms: 0 }, inputs: { value: { value: 1 } } },
          b: { type: "test.sleep", config: { ms: 300 }, inputs: { value: "a.value" } },
          c: { type: "test.sleep", config: { ms: 300 }, inputs: { value: "b.value" } },
        },
      };
      const handle = (await runner.prepare(slow)).start({});
      for (
        let i = 0;
        i < 100 && watcher.executions.get(handle.executionId)?.nodes.a?.status !== "completed";
        i++
      )
        await new Promise((resolve) => setTimeout(resolve, 10));
      const seen: ExecutionEvent[] = [];
      const finished = new Promise<"finished">((resolve) =>
        watcher.executions.subscribe(handle.executionId, (event) => {
          seen.push(event);
          if (event.type === "execution.finished") resolve("finished");
        }),
      );
      // The subscription replays what was recorded so far; the rest arrives only if changes are followed.
      expect(seen.some((event) => event.type === "execution.finished")).toBe(false);
      const outcome = await Promise.race([
        finished,
        new Promise<"timed out">((resolve) => setTimeout(() => resolve("timed out"), 5_000)),
      ]);
      expect(outcome).toBe("finished");
      expect(seen.map((event) => event.seq)).toEqual(seen.map((_, i) => i + 1));
      expect(seen.some((event) => event.type === "node.completed" && event.nodeId === "c")).toBe(true);
      expect((await handle.result).outputs).toEqual({ value: 1 });
    } finally {
      await runner.close();
      await watcher.close();
    }
  });

  it("keeps cached results across host processes, and a new node version does not reuse them", async () => {
    const host = await open();
    const result = await host.run(chain, { x: 2 });
    expect(result.nodes.b!.status).toBe("cached");
    expect(result.outputs.y).toBe(81);
    await host.close();
  });

  it("re-runs from a node, reusing the recorded results upstream of it", async () => {
    const host = await open();
    const original = await host.run(chain, { x: 4 });
    const handle = await host.rerun(original.executionId, "c");
    const again = await handle.result;
    expect(again.executionId).not.toBe(original.executionId);
    expect(again.outputs).toEqual(original.outputs);
    expect(again.nodes.a!.status).toBe("cached");
    expect(again.nodes.b!.status).toBe("cached");
    expect(again.nodes.c).toMatchObject({ status: "completed", attempt: 1 });
    await expect(host.rerun(original.executionId, "d")).rejects.toThrow('blueprint "chain" of execution');
    await host.close();
  });

  it("reads back an execution recorded start to end in one write, and its events after a given one", async () => {
    const pure: BlueprintDocument = {
      conductor: "blueprint/v1",
      id: "pure",
      inputs: { x: { schema: { type: "integer" } } },
      outputs: { x: "b.x" },
      nodes: {
        a: { type: "test.add-one", inputs: { x: "inputs.x" } },
        b: { type: "test.add-one", inputs: { x: "a.x" } },
      },
    };
    const first = await open();
    const seen: string[] = [];
    const result = await first.run(pure, { x: 1 }, { onEvent: (event) => seen.push(event.type) });
    await first.close();

    const second = await open();
    const replay = (afterSeq?: number): ExecutionEvent[] => {
      const events: ExecutionEvent[] = [];
      second.executions.subscribe(
        result.executionId,
        (event) => events.push(event),
        afterSeq === undefined ? {} : { afterSeq },
      );
      return events;
    };
    const events = replay();
    expect(events.map((event) => event.type)).toEqual(seen);
    expect(events.map((event) => event.seq)).toEqual(seen.map((_, i) => i + 1));
    expect(events.every((event) => event.executionId === result.executionId)).toBe(true);
    expect(replay(3).map((event) => event.seq)[0]).toBe(4);
    expect(second.executions.get(result.executionId)).toMatchObject({
      status: "completed",
      outputs: { x: 3 },
    });
    await second.close();
  });

  it("opens a journal written before executions kept their events in their own row", async () => {
    const oldDir = await mkdtemp(join(tmpdir(), "journal-old-"));
    try {
      const { DatabaseSync } = await import("node:sqlite");
      await mkdir(join(oldDir, ".conductor"));
      const db = new DatabaseSync(join(oldDir, ".conductor", "journal.db"));
      db.exec(
        "CREATE TABLE executions (id TEXT PRIMARY KEY, blueprint_id TEXT NOT NULL, status TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER, duration_ms REAL, failure TEXT, last_seq INTEGER NOT NULL DEFAULT 0, blueprint_key TEXT, project_dir TEXT, parent_id TEXT, inputs TEXT)",
      );
      db.close();
      const host = await createConductor({
        nodes,
        journal: join(oldDir, ".conductor", "journal.db"),
        project: { dir: oldDir, blueprints: [], nodes: [], runtimes: {} },
      });
      const result = await host.run(chain, { x: 1 });
      expect(host.executions.get(result.executionId)).toMatchObject({ status: "completed" });
      await host.close();
    } finally {
      await rm(oldDir, { recursive: true, force: true });
    }
  });

  it("refuses to resume an execution that already finished, saying what to do instead", async () => {
    const host = await open();
    const [latest] = host.executions.list({ limit: 1 });
    await expect(host.resume(latest!.executionId)).rejects.toThrow(
      `execution "${latest!.executionId}" already completed; nothing to resume (use \`conductor rerun\` to run it again)`,
    );
    await host.close();
  });
});

describe("the journal's checkpoints", () => {
  it("move to a thread of their own only once the journal is in steady use", async () => {
    const dir = await mkdtemp(join(tmpdir(), "journal-checkpoints-"));
    const journal = await Journal.open({ path: join(dir, "journal.db") });
    try {
      journal.cache.put("first", "test.node", { n: 0 });
      await journal.flush();
      // A one-shot command commits a few times: it never pays for starting a thread.
      expect(journal.checkpointing).toBe(false);
      for (let n = 1; n < CHECKPOINT_THREAD_AFTER_COMMITS; n++) {
        journal.cache.put(`key-${n}`, "test.node", { n });
        await journal.flush();
      }
      expect(journal.checkpointing).toBe(true);
      expect(journal.cache.get(`key-${CHECKPOINT_THREAD_AFTER_COMMITS - 1}`)).toEqual({
        n: CHECKPOINT_THREAD_AFTER_COMMITS - 1,
      });
    } finally {
      await journal.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the journal's format", () => {
  it("is recorded, and a journal of a newer format is refused rather than misread", async () => {
    const dir = await mkdtemp(join(tmpdir(), "journal-format-"));
    const path = join(dir, "journal.db");
    try {
      await (await Journal.open({ path })).close();
      const { DatabaseSync } = await import("node:sqlite");
      const db = new DatabaseSync(path);
      expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: JOURNAL_FORMAT });
      db.exec(`PRAGMA user_version = ${JOURNAL_FORMAT + 1}`);
      db.close();
      await expect(Journal.open({ path })).rejects.toThrow(
        `was written by a newer Conductor (journal format ${JOURNAL_FORMAT + 1}; this one reads up to ${JOURNAL_FORMAT})`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the journal's files", () => {
  const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

  it("are created readable by their owner only: the database, its -wal and -shm, and the directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "journal-modes-"));
    const path = join(dir, ".conductor", "journal.db");
    try {
      const journal = await Journal.open({ path });
      expect(await modeOf(join(dir, ".conductor"))).toBe(0o700);
      for (const file of [path, `${path}-wal`, `${path}-shm`]) expect(await modeOf(file), file).toBe(0o600);
      await journal.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("are made private when an older version left them readable by others, the blob directory too", async () => {
    const dir = await mkdtemp(join(tmpdir(), "journal-modes-"));
    const path = join(dir, "journal.db");
    try {
      await (await Journal.open({ path })).close();
      await mkdir(join(dir, "blobs"));
      await writeFile(`${path}-wal`, "");
      for (const file of [path, `${path}-wal`]) await chmod(file, 0o644);
      await chmod(join(dir, "blobs"), 0o755);
      const journal = await Journal.open({ path });
      for (const file of [path, `${path}-wal`]) expect(await modeOf(file), file).toBe(0o600);
      expect(await modeOf(join(dir, "blobs"))).toBe(0o700);
      await journal.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
