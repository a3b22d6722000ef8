export const VERSION = "0.1.0";

const overview = `conductor ${VERSION}: run workflows of TypeScript, Python and Rust nodes

usage: conductor <command> [options]

commands:
  init [dir]            scaffold a project: conductor.yaml, a blueprint, TypeScript and Python nodes with tests
  new node <type>       add a node with its test (--lang ts|python|rust) and register it in conductor.yaml
  run <blueprint>       run a blueprint and print its outputs (live progress in a terminal)
  validate <blueprint>  check a blueprint against the project's node types, without running it
  nodes                 list every node type of every runtime, with their ports
  history               list the project's recorded executions
  inspect <id>          show one execution: node timings, inputs, outputs, logs, failures
  resume <id>           continue an execution whose host died, without re-running completed nodes
  rerun <id> --from <n> run again from node n, reusing the recorded results upstream of it
  setup                 prepare the project's runtimes (Python venvs, Rust builds) ahead of time
  schema [project]      print the JSON Schema of the blueprint format, or of conductor.yaml (for editors)
  serve                 serve the API (gRPC, gRPC-Web, Connect), webhooks and the visual debugger
  worker                serve the project's runtimes to schedulers on other machines through Redis
  workers               list the workers connected to Redis: labels, runtimes, work in flight, heartbeat
  schedules             list the project's schedules (cron, time zone), their next and last fired slots
  dev [blueprint]       serve, watch the project, and re-run the last execution from what each edit changed
  conformance -- <cmd>  check that a runtime program of any language speaks the runtime ABI (docs/conformance.md)
  keys create|list|revoke  API keys: a role in a namespace, shown once, stored hashed (docs/security.md)
  audit [list|verify]   the audit trail of the API and of keys, and a check of its hash chain
  secrets set|list|delete|rotate-key  encrypted secrets that node configs name as { $secret: <name> }
  deploy <blueprint>    publish a blueprint as an immutable version of a namespace, and make it current
  deployments [list|diff|rollback]  the deployed versions, what changed between two, rolling back

options for every command:
  --project <dir>       the project directory (default: the nearest conductor.yaml above the blueprint or cwd)
  --json                machine-readable output on stdout
  -h, --help            help for a command
  -v, --version         print the version

exit codes: 0 ok, 1 the execution failed (or Node.js is older than 22.13), 2 bad usage (or init/new would
            overwrite files), 3 invalid blueprint/inputs/project, 4 a runtime could not start, 5 no such
            execution, node or runtime, 6 the execution cannot be resumed (it finished, another process runs
            it, or its deployed version's code changed), 74 the journal cannot be read or written, 130 cancelled by Ctrl-C (143 SIGTERM, 129 SIGHUP,
            141 stdout closed), 70 internal error

Run \`conductor <command> --help\` for a command's options. Docs: docs/getting-started.md, docs/project.md.
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
  --no-cache                run every node, even cacheable ones with a recorded result
  --no-journal              do not record the execution (it cannot be resumed or inspected)
  --redis <url>             with --remote: Redis of the workers (default $CONDUCTOR_REDIS)
  --remote <runtimes>       run these runtimes' nodes on workers (docs/distributed.md), e.g. --remote python
  --queue                   with --redis: send the execution to the schedulers sharing the Redis
                            (\`conductor serve --queue\`); one takes it, this command shows its events
  --log-format json         log on stderr as JSON lines (one per event and per node log line, with execution,
                            node and trace ids) instead of the live view; default $CONDUCTOR_LOG_FORMAT, else text
  --log-level <level>       with --log-format json: debug, info (default, or $CONDUCTOR_LOG_LEVEL), warn, error
  --project <dir>           the project directory

A TRACEPARENT in the environment (W3C trace context) becomes the parent of the execution's span when tracing
is on (docs/telemetry.md).
Executions are recorded in the project's journal (.conductor/journal.db): see history, inspect, resume, rerun.
Ctrl-C (or SIGTERM, SIGHUP, or a reader closing stdout) cancels the execution: its nodes get their cancellation,
it is recorded as cancelled and printed, and the command exits 130 (143, 129, 141). Ctrl-C again exits at once.

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
  dev: `usage: conductor dev [blueprint] [-i name=value]... [--port <n>] [--project <dir>]

Serves the API and the debugger on 127.0.0.1 (as \`conductor serve\`) and watches the project: blueprints,
TypeScript and Python node modules, Rust crates. On a change it validates the changed blueprints, starts afresh
only the runtime whose code changed (executions in flight finish on the code they started with; a Rust crate is
rebuilt by cargo first), and re-runs the last execution from the first nodes the change touched, reusing the
recorded results upstream of them. The debugger lists the new execution with its lineage. A blueprint given is
run once at start (with --input/--inputs as for \`conductor run\`), so there is an execution to re-run.
A change to conductor.yaml needs a restart of \`conductor dev\`.

options:
  -i, --input <name=value>  an input of the blueprint run at start (repeatable)
  --inputs <file>           inputs from a JSON or YAML file
  -p, --port <n>            the port (default 7070; 0 picks a free one)
  --no-debugger             serve the API only
  --verbose                 pass runtimes' stderr through
  --project <dir>           the project directory

example:
  conductor dev flows/report.blueprint.yaml -i csv=data/sales.csv
`,
  serve: `usage: conductor serve [--port <n>] [--host <address>] [--token <secret>] [--project <dir>]

Serves the project on one port: the conductor.api.v1 API to gRPC, gRPC-Web and Connect clients (HTTP/1.1 and
HTTP/2), webhooks (POST /hooks/<blueprint-id> with the inputs as a JSON body; ?async=1 answers at once), and
the visual debugger at /. The project's runtimes start first, so requests never wait for them. Ctrl-C or
SIGTERM stops it: no new connections, running executions cancelled, runtimes closed.

options:
  -p, --port <n>        the port (default 7070; 0 picks a free one)
  --host <address>      the address to bind (default 127.0.0.1)
  --token <secret>      the token every call must carry as "Authorization: Bearer <secret>" (default:
                        $CONDUCTOR_TOKEN, else the project's, in .conductor/api-token, made on the first start)
  --cors-origin <origin>  let browser apps from this origin call the API (repeatable; "*" for any)
  --oidc-issuer <url> --oidc-audience <client-id> [--oidc-jwks-uri <url>]
                        also accept OpenID Connect bearer tokens of this issuer and audience; their
                        conductor_role and conductor_namespace claims give the role and namespace
  --quota-in-flight <n>, --quota-starts-per-minute <n>
                        per namespace: executions started through the API and not finished, and starts in
                        any 60 s; a start beyond either is refused with resource_exhausted naming the quota
  --no-resume           do not adopt orphaned executions; by default the server resumes, at start and
                        whenever one turns up, every execution recorded as running whose host died or stopped
                        renewing its lease (never one another live process runs; --resume is the default)
  --no-debugger         serve no debugger pages
  --verbose             pass every runtime's stderr through
  --redis <url>         with --remote: Redis of the workers (default $CONDUCTOR_REDIS)
  --remote <runtimes>   run these runtimes' nodes on workers (\`conductor worker\`), e.g. --remote python,rust
  --queue               with --redis: share executions with the other servers of the Redis: a start received
                        here (API, webhook) goes to the queue, and this server takes its share of them
  --queue-capacity <n>  with --queue: shared executions this server runs at once (default 16; 0: none)
  --log-format json     log on stderr as JSON lines (every execution's events, node log lines, notices, with
                        execution, node and trace ids); default $CONDUCTOR_LOG_FORMAT, else text
  --log-level <level>   with --log-format json: debug, info (default, or $CONDUCTOR_LOG_LEVEL), warn, error
  --project <dir>       the project directory

Every API call and webhook needs the token, loopback included, except the webhooks of blueprints listed in
access.publicWebhooks of conductor.yaml; the debugger's address printed on start carries it.

examples:
  conductor serve
  curl -s -H "Authorization: Bearer $(cat .conductor/api-token)" -H 'Content-Type: application/json' \\
    -d '{"name":"Ada"}' http://127.0.0.1:7070/hooks/hello
  CONDUCTOR_TOKEN=s3cret conductor serve --host 0.0.0.0 --port 8080   # behind a TLS-terminating proxy
Docs: docs/api.md, docs/security.md.
`,
  keys: `usage: conductor keys create --role admin|editor|operator|viewer|worker [--namespace <ns>] [--name <text>]
                            [--expires 30d|12h|15m] [--json]
       conductor keys list [--json]
       conductor keys revoke <key-id>

API keys of the project (kept hashed in .conductor/tenancy.db). \`create\` prints the new key once on stdout; send
it as "Authorization: Bearer <key>". A key is one role in one namespace (default: "default", the namespace of the
project's blueprint files). Roles and what each may call: docs/security.md. Every change is in the audit trail.
`,
  audit: `usage: conductor audit [list] [--namespace <ns>] [--limit n] [--json]
       conductor audit verify [--json]

Every call that changes something and every refused request, with who, what, namespace, when, from which address
and its outcome, in an append-only hash-chained table (.conductor/tenancy.db). \`verify\` recomputes the chain and
exits 1 naming the first entry that was edited, or after which entries were deleted; it prints the head hash:
keep it elsewhere to detect a trail cut short later.
`,
  secrets: `usage: printf %s "$VALUE" | conductor secrets set <name> [--namespace <ns>]
       conductor secrets set <name> --from-env <VARIABLE> [--namespace <ns>]
       conductor secrets list [--namespace <ns>] [--json]
       conductor secrets delete <name> [--namespace <ns>]
       conductor secrets rotate-key

Secrets of a namespace, encrypted with AES-256-GCM (in .conductor/tenancy.db) under the newest key of
CONDUCTOR_SECRET_KEY ("k2:<base64>,k1:<base64>", newest first) or, without it, of .conductor/secret-keys (made on
the first \`set\`). A node's config names one as { $secret: <name> }; its value is decrypted only as the node's
invocation is sent to its runtime, and never written to the journal, events, logs or API answers. Values are read
from stdin or an environment variable, never from the command line. \`rotate-key\` adds a new key to the key file
(or takes the first of CONDUCTOR_SECRET_KEY) and re-encrypts every secret with it.
`,
  deploy: `usage: conductor deploy <blueprint> [--namespace <ns>] [--message <text>] [--json]

Validates a blueprint file and publishes it as an immutable version of the namespace (default "default") in
.conductor/tenancy.db: its document and the identity of the code its nodes run (a SHA-256 per runtime of its entry in
conductor.yaml and its files). Versions are numbered 1, 2, ... per blueprint and named by a content digest;
deploying what a version already is makes that version current again. Starts that name the blueprint without a
version (API, webhooks) run the current version; StartExecution's version field or a webhook's ?version=<n> pins
one. In the default namespace a blueprint never deployed runs from its file, as before. Recorded in the audit
trail.
`,
  deployments: `usage: conductor deployments [list [<blueprint>]] [--namespace <ns>] [--json]
       conductor deployments diff <blueprint> <a> <b> [--namespace <ns>] [--json]
       conductor deployments rollback <blueprint> <version> [--namespace <ns>] [--json]

\`list\` shows each version (● marks the current one) with its digest, when and by whom it was deployed. \`diff\`
names the nodes, inputs and outputs added, removed or changed from version a to b, and the runtimes whose code
changed. \`rollback\` makes an earlier version current (recorded in the audit trail); executions already running
keep the version they started with.
`,
  worker: `usage: conductor worker --redis <url> [--runtimes <a,b>] [--labels <x,y>] [--in-process] [--project <dir>]

Serves the project's runtimes (all, or those of --runtimes) to schedulers on other machines: takes their nodes
from Redis (BullMQ queues), runs them in the runtimes it started (the same supervision as a local host), and
sends back their events and outputs. Ctrl-C or SIGTERM stops it: no new work, running nodes finish.

options:
  --redis <url>         Redis (default $CONDUCTOR_REDIS), e.g. redis://127.0.0.1:6379
  --runtimes <a,b>      the runtimes to serve (default: every runtime of the project)
  --labels <x,y>        what this machine offers, e.g. gpu,eu-west
  --id <name>           its name in \`conductor workers\` (default: hostname-pid-random)
  --concurrency <n>     nodes taken at once per runtime (default: the runtime's max concurrency, at most 64)
  --lock-ms <n>         a job's lock; a worker killed mid-node has its jobs re-delivered after about this long
                        (default 30000)
  --in-process          run the Node runtimes (kind: node) inside the worker, not in a sidecar: one process hop
                        less per node; a node that crashes or blocks the process stops the worker (its jobs go
                        to other workers)
  --verbose             pass every runtime's stderr through
  --project <dir>       the project directory

Docs: docs/distributed.md.
`,
  workers: `usage: conductor workers --redis <url> [--json] [--all]

Lists the workers connected to Redis: id, state, runtimes, labels, nodes in flight, nodes done, last heartbeat.
--all lists workers gone in the last hour too.
`,
  schedules: `usage: conductor schedules [--redis <url>] [--json] [--project <dir>]

Lists the project's schedules (conductor.yaml schedules:): blueprint, cron, time zone, next slot, and the last slot
fired with its execution, from the project's journal; with --redis (or $CONDUCTOR_REDIS), from the Redis that
servers run with --redis share. \`conductor serve\` runs the schedules.
Docs: docs/project.md (Schedules).
`,
  history: `usage: conductor history [--blueprint <id>] [--status running|orphaned|completed|failed|cancelled]
                         [--limit n] [--json]

Lists the executions recorded in the project's journal, newest first, with where each came from (a re-run of
another, a sub-blueprint of another, resumed after its host stopped). An execution recorded as running whose
process died or stopped renewing its lease is shown as orphaned: \`conductor resume <id>\` or
\`conductor serve\` continues it.
`,
  inspect: `usage: conductor inspect <execution-id> [--node <id>] [--json]

Shows a recorded execution: status, inputs, outputs, and for each node its timing, runtime, attempt, inputs,
outputs, logs and failure. Values are cut to a preview (a large one is read only as far as its preview);
--json gives the execution's inputs and outputs whole.
`,
  resume: `usage: conductor resume <execution-id> | --all [--json] [--allow-code-change]

Continues an execution that was running when its host died. Nodes whose completion was recorded keep their
results and do not run again; a node that was running runs again. Refused (exit 6) while the process that runs
the execution is alive and renews its lease, naming that process. --all resumes every orphaned execution.
An execution of a deployed version whose node code changed since that version was deployed is refused too
(exit 6, naming the runtimes); --allow-code-change resumes it with the code there is now.
`,
  rerun: `usage: conductor rerun <execution-id> --from <node> [--json]

Runs the execution's blueprint again with the same inputs, from <node> on: nodes that are not downstream of it
reuse their recorded results. Starts a new execution.
`,
  conformance: `usage: conductor conformance [--json] [--only <id>] [--name <runtime>] [--patience <ms>] -- <command…>

Starts the runtime program <command…> the way the host does (docs/protocol.md) and drives it directly over
the runtime ABI: its handshake line, cookie and token checks, Handshake, ListNodeTypes and the conformance.*
node types, ValidateConfig, Execute with one and several steps, every kind of value, concurrency up to and
beyond max_concurrency, Cancel, timeouts, Drain, Shutdown, stdin, signals, and fields in any order on the wire.
Prints a line per check (what was expected and what was found when it fails) and "N passed, M failed";
exits 0 when every check passed, 1 when one failed.

options:
  --only <id>           run only the checks whose id starts with this (repeatable, or comma-separated)
  --list                list the checks and exit
  --name <runtime>      CONDUCTOR_RUNTIME_NAME to start it with (default kit)
  --patience <ms>       how long to wait for what a runtime should do at once (default 10000)
  --json                print the report as JSON

examples:
  conductor conformance -- python -m conductor_runtime --module conductor_runtime.conformance
  conductor conformance --only cancel. -- ./target/release/my-runtime
Docs: docs/conformance.md.
`,
  schema: `usage: conductor schema [blueprint|project]

Prints the JSON Schema (2020-12) of the blueprint/v1 format (the default), or of conductor.yaml (project/v1).
Editors with the YAML language server use them from a first line such as
  # yaml-language-server: $schema=node_modules/@conductor/host/schemas/blueprint.schema.json
(an installed @conductor/host ships both in schemas/; conductor init writes these lines).
`,
  init: `usage: conductor init [dir] [--rust] [--force] [--json]

Scaffolds a project in dir (default: the current directory, created when missing):
  conductor.yaml                 the project file (docs/project.md), with its schema for editors
  flows/hello.blueprint.yaml     a blueprint: a TypeScript node, then a Python node (and a Rust node)
  nodes/greet.ts, .test.ts       a TypeScript node run in the host, and its test (node --test)
  python/nodes/word_count.py     a Python node, and its test in python/tests (pytest)
  rust/                          with --rust: a crate serving a Rust node, with its test (cargo test)
  .gitignore, tsconfig.json, .vscode/settings.json, and a package.json when there is none
Installs nothing. Works whatever the directory's package.json says: when it does not say "type": "module",
nodes/ gets a package.json that does, so the TypeScript files are ES modules.

options:
  --rust     add the Rust node crate and its runtime (needs cargo to build)
  --force    overwrite the scaffold's files that exist (without it nothing is written when one does)
  --json     print what was written and the next commands as JSON
`,
  new: `usage: conductor new node <type> --lang ts|python|rust [--runtime <name>] [--force] [--json]

Adds a node of type <type> (e.g. py.top-words) with its test, and registers it in conductor.yaml:
  --lang ts      nodes/<name>.ts and .test.ts, listed under nodes: (or --runtime <a kind: node runtime>)
  --lang python  <path>/nodes/<name>.py and <path>/tests/test_<name>.py, in the Python runtime's modules
  --lang rust    <crate>/src/nodes/<name>.rs, registered in src/nodes/mod.rs of the Rust runtime's crate
A language without a runtime in conductor.yaml gets one, as conductor init lays it out. With several runtimes
of the language, --runtime picks one. Refuses to overwrite files unless --force.
`,
};

/** The help text of a command, or the overview. */
export function helpText(command?: string): string {
  return (command === undefined ? undefined : byCommand[command]) ?? overview;
}
