import type { NodeNames } from "./node-names.js";

/**
 * The source files of a new node in each language, with a test beside it, for `conductor new node` and
 * `conductor init`. Every template reads a text input, so the nodes `init` makes can be chained in a blueprint:
 * the TypeScript node greets (`text` → `text`), the Python node counts (`text` → `words`, `characters`), the Rust
 * node shouts (`text` → `text`). The user replaces the logic; the shape (ports, flags, test) is what they keep.
 */

/** A TypeScript node run by the host (or the Node sidecar), and its node:test test. */
export function typescriptNode(names: NodeNames): { source: string; test: string } {
  const source = `/**
 * The ${names.type} node: replace its ports and its run function with yours. The host loads this module because
 * conductor.yaml lists it; ${names.kebab}.test.ts tests it (\`node --test\`).
 */
import { defineNode } from "@conductor/sdk";
import { z } from "zod";

export const ${names.camel} = defineNode({
  type: "${names.type}",
  title: "${names.title}",
  description: "Greets whoever the text names.",
  input: { text: z.string().describe("Who to greet.") },
  output: { text: z.string().describe("The greeting.") },
  config: z.object({ greeting: z.string().default("hello") }),
  flags: { deterministic: true },
  run: ({ text }, ctx) => {
    ctx.log.info("greeting", { text });
    return { text: \`\${ctx.config.greeting}, \${text}\` };
  },
});
`;
  const test = `import assert from "node:assert/strict";
import { test } from "node:test";
import { createConductor } from "@conductor/host";
import { ${names.camel} } from "./${names.kebab}.ts";

test("${names.type} greets whoever the text names", async () => {
  // A project given in code with only this node, so the test starts none of the project's runtimes.
  const conductor = await createConductor({
    project: { dir: import.meta.dirname, blueprints: [], nodes: [], runtimes: {} },
    nodes: [${names.camel}],
  });
  try {
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        inputs: { text: { schema: { type: "string" } } },
        outputs: { text: "node.text" },
        nodes: { node: { type: "${names.type}", inputs: { text: "inputs.text" } } },
      },
      { text: "Ada" },
    );
    assert.equal(result.status, "completed");
    assert.deepEqual(result.outputs, { text: "hello, Ada" });
  } finally {
    await conductor.close();
  }
});
`;
  return { source, test };
}

/** A Python node (a module of the runtime's \`nodes\` package) and its pytest test. */
export function pythonNode(names: NodeNames): { source: string; test: string } {
  const source = `"""The ${names.type} node: replace its ports and its body with yours.

The Python runtime imports this module because conductor.yaml lists it (runtimes.<name>.modules);
tests/test_${names.snake}.py tests it (pytest).
"""

from typing import TypedDict

from conductor_runtime import node


class ${names.pascal}Output(TypedDict):
    """The output ports: one per key."""

    words: int
    characters: int


@node("${names.type}", title="${names.title}", deterministic=True)
def ${names.snake}(text: str) -> ${names.pascal}Output:
    """Counts the words and characters of a text."""
    return {"words": len(text.split()), "characters": len(text)}
`;
  const test = `from nodes.${names.snake} import ${names.snake}


def test_counts_words_and_characters() -> None:
    # @node returns the function unchanged: a node is an ordinary function in a test.
    assert ${names.snake}("hello, Ada") == {"words": 2, "characters": 10}
`;
  return { source, test };
}

/** A Rust node (a module of the crate's \`nodes\` module), with its unit test inside. */
export function rustNode(names: NodeNames): string {
  return `//! The ${names.type} node: replace its ports and its logic with yours. \`cargo test\` runs the tests below.

use conductor_runtime::{Context, Empty, Node, NodeError, NodeSpec, async_trait};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The input ports: one per field, required unless it is an \`Option\`.
#[derive(Deserialize, JsonSchema)]
pub struct ${names.pascal}Input {
    /// The text to shout.
    text: String,
}

/// The output ports.
#[derive(Serialize, JsonSchema)]
pub struct ${names.pascal}Output {
    /// The text in capitals.
    text: String,
}

/// The \`${names.type}\` node type.
pub struct ${names.pascal};

#[async_trait]
impl Node for ${names.pascal} {
    type Config = Empty;
    type Input = ${names.pascal}Input;
    type Output = ${names.pascal}Output;

    fn spec(&self) -> NodeSpec {
        ${specChain(names)}
    }

    async fn run(
        &self,
        _ctx: &Context,
        _config: Empty,
        input: ${names.pascal}Input,
    ) -> Result<${names.pascal}Output, NodeError> {
        Ok(${names.pascal}Output {
            text: ${names.snake}(&input.text),
        })
    }
}

/// The node's logic, apart from the runtime, so a unit test calls it directly.
fn ${names.snake}(text: &str) -> String {
    text.to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ${names.snake}_puts_the_text_in_capitals() {
        assert_eq!(${names.snake}("hello, Ada"), "HELLO, ADA");
    }
}
`;
}

/** The node's NodeSpec expression, laid out as rustfmt lays it out (one line up to 60 characters). */
function specChain(names: NodeNames): string {
  const parts = [`NodeSpec::new("${names.type}", "1")`, `.title("${names.title}")`, ".deterministic()"];
  return parts.join("").length <= 60 ? parts.join("") : parts.join("\n            ");
}

/** Options of {@link rustCrate}. */
export interface RustCrateOptions {
  /** The cargo package name, which is also the binary's. */
  packageName: string;
  /** The path from the crate's directory to the conductor-runtime crate (shipped inside @conductor/host). */
  runtimeCrate: string;
  /** The first node of the crate. */
  node: NodeNames;
}

/** A cargo package serving its nodes as a Rust runtime: Cargo.toml, src/main.rs and src/nodes/mod.rs. */
export function rustCrate(options: RustCrateOptions): Record<string, string> {
  return {
    "Cargo.toml": `[package]
name = "${options.packageName}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
# The Rust runtime of Conductor, from the @conductor/host package, so it always matches the host's version.
conductor-runtime = { path = "${options.runtimeCrate}" }
schemars = "1"
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
`,
    "src/main.rs": `//! The Rust runtime of this project. The Conductor host builds it (\`cargo build --release\`) and starts it for
//! the runtime of conductor.yaml that names this package; it serves the nodes of \`src/nodes\`.

mod nodes;

#[tokio::main]
async fn main() -> Result<(), conductor_runtime::ServeError> {
    conductor_runtime::serve(nodes::registry()).await?;
    Ok(())
}
`,
    "src/nodes/mod.rs": `//! The nodes this runtime serves: \`conductor new node <type> --lang rust\` adds a module and a \`.node(…)\` line.

use conductor_runtime::Registry;

mod ${options.node.snake};

/// Every node of this crate.
pub fn registry() -> Registry {
    Registry::new().node(${options.node.snake}::${options.node.pascal})
}
`,
    [`src/nodes/${options.node.snake}.rs`]: rustNode(options.node),
  };
}

/**
 * Registers one more node module in a crate's src/nodes/mod.rs (as `rustCrate` writes it): a `mod` line among the
 * others, and a `.node(…)` call appended to the `Registry::new()…` chain, both laid out as rustfmt would. Undefined
 * when the file has no `mod …;` line or no `Registry::new()`, so the caller can say what to add by hand.
 */
export function registerRustNode(modRs: string, names: NodeNames): string | undefined {
  const chain = /^([ \t]*)Registry::new\(\)((?:\s*\.node\([^()]*\))*)/m.exec(modRs);
  const lines = modRs.split("\n");
  const isMod = (line: string) => /^mod \w+;\s*$/.test(line);
  const lastMod = lines.findLastIndex(isMod);
  if (lastMod === -1 || chain === null) return undefined;
  // In alphabetical order among the `mod` lines around the last one, as rustfmt sorts them.
  let at = lastMod + 1;
  while (at - 1 >= 0 && isMod(lines[at - 1]!) && lines[at - 1]!.trim() > `mod ${names.snake};`) at -= 1;
  lines.splice(at, 0, `mod ${names.snake};`);
  const withMod = lines.join("\n");
  const indent = chain[1]!;
  const calls = [...chain[2]!.matchAll(/\.node\([^()]*\)/g)].map((call) => call[0]);
  calls.push(`.node(${names.snake}::${names.pascal})`);
  const oneLine = `Registry::new()${calls.join("")}`;
  const laidOut = oneLine.length <= 60 ? oneLine : ["Registry::new()", ...calls].join(`\n${indent}    `);
  const again = /^([ \t]*)Registry::new\(\)((?:\s*\.node\([^()]*\))*)/m.exec(withMod)!;
  return `${withMod.slice(0, again.index)}${indent}${laidOut}${withMod.slice(again.index + again[0].length)}`;
}
