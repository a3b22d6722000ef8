"""The gRPC server of ``conductor.runtime.v1.RuntimeService`` over a Unix socket, and the process's life."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any, cast

import grpc

from ._catalog import Catalog
from ._constants import ABI_VERSIONS, FEATURES, LANGUAGE, TOKEN_METADATA_KEY, VERSION
from ._runtime import Runtime, Settings
from ._session import Session
from .gen.conductor.runtime.v1 import runtime_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["RuntimeService"].full_name
UNAUTHENTICATED_MESSAGE = "missing or wrong conductor-token"
_STOP_GRACE_S = 0.5
LIVENESS_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 0),
    ("grpc.http2.max_ping_strikes", 0),
)
"""The host pings every runtime to tell a frozen one (docs/protocol.md, section 1.5). By default grpc C-core allows
one ping per 5 minutes on a connection without data and answers more with GOAWAY "too_many_pings", which the host
would take for a lost runtime: accept pings at any rate, with or without calls."""


def choose_abi(offered: list[int] | tuple[int, ...]) -> int:
    """The highest ABI version both sides speak; without one, this runtime's highest, so that the host reports
    the mismatch with both numbers (docs/protocol.md, section 1.2)."""
    common = [version for version in ABI_VERSIONS if version in offered]
    return max(common) if common else max(ABI_VERSIONS)


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Rejects every call whose ``conductor-token`` metadata is missing or wrong with UNAUTHENTICATED."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        for key, value in handler_call_details.invocation_metadata or ():
            if key == TOKEN_METADATA_KEY:
                given = value.encode() if isinstance(value, str) else value
                if hmac.compare_digest(given, self._token):
                    return handler
                break
        return _refusal(handler)


async def _refuse(_: object, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE)


def _refusal(handler: grpc.RpcMethodHandler[Any, Any] | None) -> grpc.RpcMethodHandler[Any, Any] | None:
    """A handler of the same shape as ``handler`` that fails the call with UNAUTHENTICATED."""
    if handler is None:
        return None
    options: dict[str, Any] = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(_refuse, **options)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(_refuse, **options)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(_refuse, **options)
    return grpc.unary_unary_rpc_method_handler(_refuse, **options)


class Service:
    """The RPCs of RuntimeService (docs/protocol.md); the Session stream is served by ``Session``."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def handshake(
        self, request: pb.HandshakeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.HandshakeResponse:
        runtime = self.runtime
        settings = runtime.settings
        return pb.HandshakeResponse(
            abi_version=choose_abi(tuple(request.abi_versions)),
            runtime=pb.RuntimeInfo(name=settings.name, language=LANGUAGE, version=VERSION, pid=os.getpid()),
            features=FEATURES,
            max_concurrency=settings.max_concurrency,
            max_message_bytes=settings.max_message_bytes,
            schema_hash=runtime.catalog.schema_hash(),
        )

    async def list_node_types(
        self, request: pb.ListNodeTypesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListNodeTypesResponse:
        return self.runtime.catalog.listing()

    async def validate_config(
        self, request: pb.ValidateConfigRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ValidateConfigResponse:
        diagnostics = self.runtime.catalog.validate_config(request.node_type, request.config)
        return pb.ValidateConfigResponse(diagnostics=diagnostics)

    async def session(self, requests: object, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await Session(self.runtime, context).serve()

    async def drain(self, request: pb.DrainRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.DrainResponse:
        return pb.DrainResponse(unfinished=await self.runtime.drain(request.grace_ms))

    async def shutdown(
        self, request: pb.ShutdownRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ShutdownResponse:
        # Exit once the answer is on its way, not before.
        def stop(_: object) -> None:
            self.runtime.stop(0)

        context.add_done_callback(cast("Any", stop))  # cast: the stub types the callback as a class
        return pb.ShutdownResponse()

    def handlers(self) -> dict[str, grpc.RpcMethodHandler[Any, Any]]:
        def unary(method: Any, request: Any, response: Any) -> grpc.RpcMethodHandler[Any, Any]:
            return grpc.unary_unary_rpc_method_handler(
                method,
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )

        return {
            "Handshake": unary(self.handshake, pb.HandshakeRequest, pb.HandshakeResponse),
            "ListNodeTypes": unary(self.list_node_types, pb.ListNodeTypesRequest, pb.ListNodeTypesResponse),
            "ValidateConfig": unary(self.validate_config, pb.ValidateConfigRequest, pb.ValidateConfigResponse),
            "Session": grpc.stream_stream_rpc_method_handler(
                self.session,
                request_deserializer=pb.SessionRequest.FromString,
                response_serializer=pb.SessionResponse.SerializeToString,
            ),
            "Drain": unary(self.drain, pb.DrainRequest, pb.DrainResponse),
            "Shutdown": unary(self.shutdown, pb.ShutdownRequest, pb.ShutdownResponse),
        }


async def serve(settings: Settings, catalog: Catalog, handshake_fd: int) -> int:
    """Listens on ``<socket dir>/<name>.sock``, writes the handshake line to ``handshake_fd`` and serves until
    Shutdown, stdin end-of-file or SIGTERM; returns the exit code."""
    loop = asyncio.get_running_loop()
    runtime = Runtime(settings, catalog, loop)
    limit = settings.max_message_bytes
    server = grpc.aio.server(
        interceptors=[TokenInterceptor(settings.token)],
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            *LIVENESS_OPTIONS,
        ],
    )
    handlers = Service(runtime).handlers()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    server.add_registered_method_handlers(SERVICE, handlers)
    address = _socket_path(settings)
    server.add_insecure_port(f"unix:{address}")
    await server.start()
    line = {
        "conductor": 1,
        "abi": choose_abi(settings.abi_versions),
        "network": "unix",
        "address": address,
        "pid": os.getpid(),
        "runtime": settings.name,
        "version": VERSION,
    }
    os.write(handshake_fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
    _watch_stdin(loop, runtime)
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, runtime.stop, 0)
    exit_code = await runtime.stopped
    await server.stop(_STOP_GRACE_S)
    runtime.close()
    return exit_code


def _socket_path(settings: Settings) -> str:
    """``<socket dir>/<runtime name>.sock``, absolute; a stale socket of an earlier process is removed."""
    address = os.path.join(os.path.abspath(settings.socket_dir), f"{settings.name}.sock")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address)
    return address


def _watch_stdin(loop: asyncio.AbstractEventLoop, runtime: Runtime) -> None:
    """Exits the runtime when stdin reaches end-of-file: the host keeps it open for the runtime's whole life, so
    EOF means the host is gone, even if it was killed (docs/protocol.md, section 1.5)."""

    def watch() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        loop.call_soon_threadsafe(runtime.stop, 0)

    threading.Thread(target=watch, name="conductor-stdin", daemon=True).start()
