export const VERSION = "0.1.0";

const overview = `conductor ${VERSION}: run workflows of TypeScript, Python and Rust nodes

usage: conductor <command> [options]

commands:
  run <blueprint>       run a blueprint and print its outputs (live progress in a terminal)
  validate <blueprint>  check a blueprint against the project's node types, without running it
  nodes                 list every node type of every runtime, with their ports
  setup                 prepare the project's runtimes (Python venvs, Rust builds) ahead of time
  schema                print the JSON Schema of the blueprint format (for editors)

options for every command:
  --project <dir>       the project directory (default: the nearest conductor.yaml above the blueprint or cwd)
  --json                machine-readable output on stdout
  -h, --help            help for a command
  -v, --version         print the version

exit codes: 0 ok, 1 the execution failed, 2 bad usage, 3 invalid blueprint/inputs/project,
            4 a runtime could not start, 130 cancelled, 70 internal error

Run \`conductor <command> --help\` for a command's options. Docs: docs/ARCHITECTURE.md, docs/protocol.md.
`;

const byCommand: Record<string, string> = {
  run: `usage: conductor run <blueprint> [options]

Runs a blueprint (.yaml or .json) and prints its outputs. In a terminal, shows each node's state live;
otherwise prints one line per event.

options:
  -i, --input <name=value>  a blueprint input; the value is parsed as JSON when it parses, else kept as text
                            (repeatable), e.g. -i count=3 -i 'name=Ada'
  --inputs <file>           inputs from a JSON or YAML file (flags override it)
  --json                    print the result as JSON (status, outputs, node timings, failure)
  --events                  with --json: print every event as a JSON line, then the result
  --quiet                   print only the outputs
  --project <dir>           the project directory

examples:
  conductor run examples/demo/demo.blueprint.yaml
  conductor run flow.yaml -i url=https://example.com --json
`,
  validate: `usage: conductor validate <blueprint> [--json] [--project <dir>]

Checks node types, ports, the types of connected ports, required inputs, cycles and every node's config.
Exits 0 when valid, 3 when not; each problem names its path, e.g. nodes.stats.inputs.table.
`,
  nodes: `usage: conductor nodes [--json] [--runtime <name>] [--project <dir>]

Lists the node types of every runtime of the project (starting the runtimes), with their ports and flags.
--json prints the full JSON Schemas.
`,
  setup: `usage: conductor setup [--project <dir>] [--force]

Creates Python virtual environments and builds Rust runtimes of the project, so the first run is fast.
--force reinstalls and rebuilds.
`,
  schema: `usage: conductor schema

Prints the JSON Schema (2020-12) of the blueprint/v1 format.
`,
};

/** The help text of a command, or the overview. */
export function helpText(command?: string): string {
  return (command === undefined ? undefined : byCommand[command]) ?? overview;
}
