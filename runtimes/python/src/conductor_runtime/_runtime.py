"""State shared by every session of one runtime process: settings, executors, the concurrency limit, stop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._catalog import Catalog
from ._values import ValueCodec

if TYPE_CHECKING:
    from ._process import ProcessPool


@dataclass(frozen=True, slots=True)
class Settings:
    """What the host told the runtime in its environment (docs/protocol.md, section 1.1) and the command line."""

    name: str
    token: str
    socket_dir: str
    abi_versions: tuple[int, ...]
    inline_limit: int
    blob_dir: str | None
    max_message_bytes: int
    max_concurrency: int


class Runtime:
    """Counts running invocations against ``max_concurrency``, owns the executors and the stop signal."""

    def __init__(self, settings: Settings, catalog: Catalog, loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self.catalog = catalog
        self.loop = loop
        self.codec = ValueCodec(settings.inline_limit, settings.blob_dir, settings.max_message_bytes)
        # Headroom beyond max_concurrency: a sync node abandoned at its timeout keeps its thread until it returns.
        self.threads = ThreadPoolExecutor(settings.max_concurrency + 4, thread_name_prefix="conductor-node")
        self._processes: ProcessPool | None = None
        self._processes_lock = threading.Lock()
        self.active = 0
        self.draining = False
        self._idle: asyncio.Future[None] | None = None
        self.stopped: asyncio.Future[int] = loop.create_future()

    def processes(self) -> ProcessPool:
        """The process pool of ``executor="process"`` nodes (see ``_process``), imported and made on first use."""
        with self._processes_lock:
            if self._processes is None:
                from ._process import ProcessPool

                # One slot per thread that may wait for a process call: the pool never runs out of slots.
                self._processes = ProcessPool(self.threads._max_workers)  # pyright: ignore[reportPrivateUsage]  # noqa: SLF001
            return self._processes

    def close(self) -> None:
        """Ends the process-pool workers (the process exits with os._exit, which would orphan them)."""
        if self._processes is not None:
            self._processes.close()
            # os._exit skips multiprocessing's exit hooks, which unlink the pool's semaphores; without them its
            # resource tracker warns of "leaked semaphore objects" (and unlinks them itself). Run those hooks here.
            from multiprocessing import util

            util._run_finalizers(0)  # pyright: ignore[reportAttributeAccessIssue, reportPrivateUsage, reportUnknownMemberType]  # noqa: SLF001

    def busy_reason(self) -> str | None:
        """Why a new invocation cannot start now, or None when it can."""
        if self.draining:
            return f'runtime "{self.settings.name}" is draining and accepts no new invocations'
        if self.active >= self.settings.max_concurrency:
            return (
                f'runtime "{self.settings.name}" is busy: {self.active} invocations are running and its '
                f"max_concurrency is {self.settings.max_concurrency}"
            )
        return None

    def started(self) -> None:
        self.active += 1

    def finished(self) -> None:
        self.active -= 1
        if self.active == 0 and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    async def drain(self, grace_ms: int) -> int:
        """Stops accepting invocations; waits for the running ones or the grace; returns how many still run."""
        self.draining = True
        if self.active and grace_ms > 0:
            self._idle = self.loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._idle), grace_ms / 1000)
        return self.active

    def stop(self, exit_code: int = 0) -> None:
        """Asks the process to exit with ``exit_code`` (the first request wins)."""
        if not self.stopped.done():
            self.stopped.set_result(exit_code)
