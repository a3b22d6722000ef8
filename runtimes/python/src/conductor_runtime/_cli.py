"""``python -m conductor_runtime``: the process the host spawns (docs/protocol.md, section 1)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import traceback
from collections.abc import Coroutine, Mapping
from typing import Any, NoReturn

from ._constants import (
    ABI_VERSIONS,
    COOKIE,
    DEFAULT_INLINE_LIMIT,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_MESSAGE_BYTES,
    VERSION,
)
from ._telemetry import flush as telemetry_flush

EXIT_STARTED_BY_HAND = 2
EXIT_BAD_SETUP = 1
_MAX_SOCKET_PATH = 107  # sun_path is 108 bytes on Linux, including the terminating NUL


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m conductor_runtime",
        description="The Conductor Python runtime: serves the nodes of the given modules to a Conductor host.",
    )
    parser.add_argument(
        "--module",
        "-m",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE (dotted name) and serve every node it declares; repeatable",
    )
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="add DIR to sys.path before importing the modules; repeatable",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=DEFAULT_MAX_CONCURRENCY,
        metavar="N",
        help=f"most invocations run at once (default {DEFAULT_MAX_CONCURRENCY})",
    )
    parser.add_argument("--version", action="version", version=f"conductor-runtime {VERSION}")
    arguments = parser.parse_args(argv)
    if arguments.max_concurrency < 1:
        parser.error("--max-concurrency must be at least 1")
    return arguments


def main(argv: list[str] | None = None) -> NoReturn:
    arguments = parse_arguments(argv)
    environment = os.environ
    name = environment.get("CONDUCTOR_RUNTIME_NAME") or "python"
    if environment.get("CONDUCTOR_COOKIE") != COOKIE:
        sys.stderr.write(
            f"this is the Conductor {name} runtime (conductor-runtime {VERSION}); it is started by the Conductor "
            "host,\nnot by hand: run `conductor run <blueprint>`. To attach a debugger, see CONDUCTOR_REATTACH in "
            "docs/protocol.md.\n"
        )
        sys.exit(EXIT_STARTED_BY_HAND)

    from ._runtime import Settings

    try:
        settings = Settings(
            name=name,
            token=_required(environment, "CONDUCTOR_TOKEN"),
            socket_dir=_required(environment, "CONDUCTOR_SOCKET_DIR"),
            abi_versions=_versions(environment.get("CONDUCTOR_ABI_VERSIONS", "")),
            inline_limit=_integer(environment, "CONDUCTOR_INLINE_LIMIT", DEFAULT_INLINE_LIMIT, minimum=0),
            blob_dir=environment.get("CONDUCTOR_BLOB_DIR") or None,
            max_message_bytes=_integer(environment, "CONDUCTOR_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES),
            max_concurrency=arguments.max_concurrency,
        )
    except ValueError as error:
        sys.stderr.write(f"conductor-runtime: {error}\n")
        sys.exit(EXIT_STARTED_BY_HAND)
    problem = _socket_problem(settings.socket_dir, settings.name)
    if problem is not None:
        sys.stderr.write(f"conductor-runtime: {problem}\n")
        sys.exit(EXIT_BAD_SETUP)

    # Stdout carries the handshake line and nothing else. Keep a private copy of it for that line, then point
    # file descriptor 1 at stderr before any node module is imported, so that print(), C extensions writing to
    # fd 1 and child processes all land on stderr.
    handshake_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    for directory in reversed(arguments.path):
        sys.path.insert(0, os.path.abspath(directory))

    from ._catalog import Catalog
    from ._context import install_log_bridge
    from ._node import registered

    install_log_bridge()
    for module in arguments.module:
        try:
            importlib.import_module(module)
        except BaseException as error:  # noqa: BLE001 because any failure to import a node module must be explained
            # The summary comes last: the host quotes the last lines of stderr, where a long traceback would hide it.
            summary = traceback.format_exception_only(error)[-1].strip()
            sys.stderr.write(
                f'{traceback.format_exc()}conductor-runtime: cannot import node module "{module}": {summary}\n'
            )
            sys.exit(EXIT_BAD_SETUP)
    definitions = registered()
    if not definitions:
        sys.stderr.write("conductor-runtime: warning: no node types declared; pass --module with @node functions\n")

    from ._server import serve

    exit_code = _run(serve(settings, Catalog(definitions), handshake_fd))
    telemetry_flush()
    sys.stderr.flush()
    # Not sys.exit: a sync node abandoned at its timeout would keep the interpreter waiting for its thread.
    os._exit(exit_code)


def _run(main: Coroutine[Any, Any, int]) -> int:
    """Runs the server on uvloop when it is installed (the ``fast`` extra) and not disabled, else on asyncio."""
    if os.environ.get("CONDUCTOR_PYTHON_UVLOOP", "1") != "0":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def _socket_problem(socket_dir: str, name: str) -> str | None:
    """Why a socket cannot be created in ``socket_dir``, or None."""
    if not os.path.isdir(socket_dir):
        return f'CONDUCTOR_SOCKET_DIR "{socket_dir}" is not a directory; the host creates it before the spawn'
    address = os.path.join(os.path.abspath(socket_dir), f"{name}.sock")
    if len(address.encode()) > _MAX_SOCKET_PATH:
        return (
            f'socket path "{address}" is {len(address.encode())} bytes, longer than the {_MAX_SOCKET_PATH} a Unix '
            "socket allows; use a shorter CONDUCTOR_SOCKET_DIR"
        )
    return None


def _required(environment: Mapping[str, str], key: str) -> str:
    value = environment.get(key)
    if not value:
        raise ValueError(f"{key} is not set; the host sets it (docs/protocol.md, section 1.1)")
    return value


def _integer(environment: Mapping[str, str], key: str, default: int, minimum: int = 1) -> int:
    text = environment.get(key)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f'{key} must be an integer, found "{text}"') from None
    if value < minimum:
        raise ValueError(f"{key} must be at least {minimum}, found {value}")
    return value


def _versions(text: str) -> tuple[int, ...]:
    versions: list[int] = []
    for part in text.split(","):
        if part.strip().isdigit():
            versions.append(int(part))
    return tuple(versions) or ABI_VERSIONS
