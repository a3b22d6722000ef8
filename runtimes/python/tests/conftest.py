from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness import RuntimeProcess


@pytest.fixture(scope="module")
def runtime() -> Iterator[RuntimeProcess]:
    """One runtime (conformance + test nodes) shared by the tests of a module."""
    process = RuntimeProcess().start()
    yield process
    process.stop()


@pytest.fixture
def spawn() -> Iterator[Callable[..., RuntimeProcess]]:
    """Starts runtimes of its own for a test (with other flags or environment) and stops them afterwards."""
    started: list[RuntimeProcess] = []

    def start(
        modules: list[str] | None = None,
        arguments: list[str] | None = None,
        environment: dict[str, str] | None = None,
    ) -> RuntimeProcess:
        process = RuntimeProcess(arguments=arguments or [], environment=environment or {})
        if modules is not None:
            process.modules = modules
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()
