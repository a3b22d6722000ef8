"""Names and defaults of the runtime ABI (docs/protocol.md) that this runtime must agree on with the host."""

from typing import Final

VERSION: Final = "0.1.0"
"""Version of the conductor-runtime package, reported in the handshake."""

LANGUAGE: Final = "python"

ABI_VERSIONS: Final = (1,)
"""The ABI major versions this runtime speaks, highest first."""

COOKIE: Final = "conductor-runtime-7f3c9a1e"
"""Tells the program that a host started it; not a secret (docs/protocol.md, section 1.1)."""

TOKEN_METADATA_KEY: Final = "conductor-token"

FEATURES: Final = ("session.steps", "values.arrow", "values.blob", "stream.credits", "stream.checkpoints")

DEFAULT_INLINE_LIMIT: Final = 1024 * 1024
DEFAULT_MAX_MESSAGE_BYTES: Final = 64 * 1024 * 1024
DEFAULT_MAX_CONCURRENCY: Final = 32

KILL_AFTER_S: Final = 1.0
"""How long a cancelled process-pool node may run on before its worker process is killed, when the cancel carries no
grace (a timeout, a closed session); a Cancel with ``grace_ms`` waits half of it instead, so that the step is
reported cancelled before the host's own grace passes."""

ENCODING_KEYWORD: Final = "x-conductor-encoding"
"""The JSON Schema keyword that marks a port carrying a non-JSON encoding."""

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
