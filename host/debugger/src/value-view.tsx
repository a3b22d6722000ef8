import type { ConductorClient } from "@conductor/sdk/client";
import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import {
  asBytes,
  asHandle,
  cellText,
  foldedString,
  foldSummary,
  foldsByDefault,
  foldsString,
  formatBytes,
  formatNumber,
  type GridModel,
  gridOf,
  type HandleView,
  isRecord,
  parseValueText,
} from "./value-model.js";

/** The client the inspector asks for previews of values given by handle; none, and a handle is only described. */
export const ValueClient = createContext<ConductorClient | undefined>(undefined);

/**
 * The value inspector: the values of a node's or an execution's ports, each drawn for what it is. Tables (Arrow
 * tables and arrays of rows) are a scrollable grid with column names, types and the row count; long strings and
 * large objects start folded and open level by level; numbers are numbers, every digit of an int64 kept.
 */
export function PortValues({ json }: { json: string }) {
  const parsed = parseValueText(json);
  if (parsed === undefined) return <p class="muted">none</p>;
  const { value } = parsed;
  if (!isRecord(value) || asHandle(value) !== undefined || "$table" in value || "$bytes" in value) {
    return (
      <div class="value-root">
        <ValueView value={value} depth={0} />
      </div>
    );
  }
  const ports = Object.entries(value);
  if (ports.length === 0) return <p class="muted">none</p>;
  return (
    <dl class="ports">
      {ports.map(([port, item]) => (
        <div class="port" key={port} data-port={port}>
          <dt>{port}</dt>
          <dd>
            <ValueView value={item} depth={0} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** One value of any kind, at a depth of nesting (0: a port's value). */
export function ValueView({ value, depth }: { value: unknown; depth: number }) {
  if (value === null || value === undefined) return <span class="v-null">null</span>;
  if (typeof value === "number" || typeof value === "bigint") {
    return (
      <span class="v-number" data-number={formatNumber(value)}>
        {formatNumber(value)}
      </span>
    );
  }
  if (typeof value === "boolean") return <span class="v-bool">{String(value)}</span>;
  if (typeof value === "string") return <StringView text={value} />;
  const handle = asHandle(value);
  if (handle !== undefined) return <HandleValue handle={handle} />;
  const bytes = asBytes(value);
  if (bytes !== undefined) {
    return (
      <span class="v-bytes">
        {formatBytes(bytes.size)} of bytes{bytes.truncated ? " (the first shown)" : ""}{" "}
        <StringView text={bytes.base64} />
      </span>
    );
  }
  const grid = gridOf(value);
  if (grid !== undefined) return <GridView grid={grid} />;
  return <TreeView value={value as object} depth={depth} />;
}

/**
 * A value too large to travel inline, given by handle: described by its type and size, and for a table, its grid
 * from a bounded preview the host reads (PreviewValue: the first rows, the column types, the row count).
 */
function HandleValue({ handle }: { handle: HandleView }) {
  const client = useContext(ValueClient);
  const [preview, setPreview] = useState<{ grid?: GridModel; problem?: string }>();
  const wantsGrid = handle.type === "table" && client !== undefined;
  useEffect(() => {
    if (!wantsGrid) return;
    let current = true;
    client
      .previewValue({ ref: handle.ref })
      .then((response) => {
        const grid = gridOf(parseValueText(response.previewJson)?.value);
        if (current) setPreview(grid === undefined ? { problem: "the preview is not a table" } : { grid });
      })
      .catch((error: unknown) => {
        if (current) setPreview({ problem: (error as Error).message });
      });
    return () => {
      current = false;
    };
  }, [client, handle.ref, wantsGrid]);
  const described = (
    <span class="v-handle" data-ref={handle.ref}>
      {handle.type === "table" ? "a table" : handle.type === "bytes" ? "bytes" : "JSON"} of{" "}
      {formatBytes(handle.size)}, by handle <code>{handle.ref}</code>
      {preview?.problem === undefined ? null : `; no preview: ${preview.problem}`}
    </span>
  );
  if (preview?.grid === undefined) return described;
  return (
    <>
      {described}
      <GridView grid={preview.grid} />
    </>
  );
}

/** A string, folded past a length or a number of lines, with a button to show it all and to fold it again. */
function StringView({ text }: { text: string }) {
  const folds = foldsString(text);
  const [open, setOpen] = useState(false);
  if (!folds) return <span class="v-string">{text}</span>;
  const { shown, hidden } = foldedString(text);
  return (
    <span class={`v-string long${open ? " open" : ""}`} data-folded={open ? "false" : "true"}>
      {open ? text : `${shown}…`}{" "}
      <button type="button" class="fold" onClick={() => setOpen(!open)}>
        {open ? "show less" : `show all (${hidden.toLocaleString("en-US")} more characters)`}
      </button>
    </span>
  );
}

/** An object or array: a summary line that opens and closes it, its entries below, each folding on its own. */
function TreeView({ value, depth }: { value: object; depth: number }) {
  const [open, setOpen] = useState(() => !foldsByDefault(value, depth));
  const entries = Array.isArray(value)
    ? value.map((item, index) => [String(index), item] as const)
    : Object.entries(value);
  if (entries.length === 0) return <span class="v-empty">{Array.isArray(value) ? "[]" : "{}"}</span>;
  return (
    <span class="v-tree" data-open={open ? "true" : "false"}>
      <button
        type="button"
        class="fold toggle"
        aria-expanded={open}
        onClick={(event) => {
          event.stopPropagation();
          setOpen(!open);
        }}
      >
        {open ? "▾" : "▸"} {foldSummary(value)}
      </button>
      {open ? (
        <dl class={Array.isArray(value) ? "entries items" : "entries"}>
          {entries.map(([key, item]) => (
            <div class="entry" key={key} data-key={key}>
              <dt>{key}</dt>
              <dd>
                <ValueView value={item} depth={depth + 1} />
              </dd>
            </div>
          ))}
        </dl>
      ) : null}
    </span>
  );
}

/** A table: its columns with their types, the rows drawn in a scrollable box, and the count of all its rows. */
function GridView({ grid }: { grid: GridModel }) {
  const shown = grid.rows.length;
  return (
    <div class="grid" data-rows={grid.rowCount} data-source={grid.source}>
      <p class="grid-summary">
        {grid.source === "table" ? "table" : "rows"}, {grid.rowCount.toLocaleString("en-US")}{" "}
        {grid.rowCount === 1 ? "row" : "rows"} × {grid.columns.length}{" "}
        {grid.columns.length === 1 ? "column" : "columns"}
        {shown < grid.rowCount ? ` (the first ${shown.toLocaleString("en-US")} shown)` : ""}
      </p>
      <div class="grid-scroll">
        <table>
          <thead>
            <tr>
              <th class="row-number">#</th>
              {grid.columns.map((column) => (
                <th key={column.name} data-column={column.name} data-type={column.type}>
                  <span class="column-name">{column.name}</span>
                  <span class="column-type">{column.type}</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {grid.rows.map((row, index) => (
              <tr key={index}>
                <td class="row-number">{index}</td>
                {row.map((cell, column) => (
                  <td
                    key={column}
                    class={typeof cell === "number" || typeof cell === "bigint" ? "number" : undefined}
                  >
                    {cellText(cell)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
