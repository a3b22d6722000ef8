"""Stream ports: the annotations that declare them, and what a node may give or receive for one.

A port annotated ``Stream[T]`` (an ``Iterator[T]``) or ``AsyncStream[T]`` (an ``AsyncIterator[T]``) carries a
stream of items of type ``T`` instead of one value (docs/streaming.md, docs/protocol.md section 3.5). The plain
``collections.abc`` spellings (``Iterator[T]``, ``Generator[T, None, None]``, ``AsyncIterator[T]``,
``AsyncGenerator[T, None]``) declare one too, because they say the same thing. ``T`` is typed like any port: JSON
data pydantic validates, ``bytes``, or a table type (``pa.RecordBatch`` for a stream of Arrow record batches).
"""

from __future__ import annotations

import typing
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Generator, Iterable, Iterator, Mapping
from typing import Any, Literal, TypeAlias, TypeVar

T = TypeVar("T")

Stream: TypeAlias = Iterator[T]
"""A stream port of items ``T``. As an input of a ``def`` node: an iterator the node reads with ``for``, which
waits for the next item and raises where it iterates when the producer failed. As an output: the node returns a
generator (or any iterable) for the port, and the runtime pulls it one item per credit the host grants, so the
generator never runs ahead of the slowest reader."""

AsyncStream: TypeAlias = AsyncIterator[T]
"""A stream port read or produced by ``async def`` nodes: an async iterator (``async for``), or an async generator
returned for an output."""


class Checkpoint:
    """A checkpoint a producer yields between the items of a stream output; see :func:`checkpoint`."""

    __slots__ = ("state",)

    def __init__(self, state: object) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"checkpoint({self.state!r})"


def checkpoint(state: object) -> Any:
    """Marks a checkpoint in a stream output: yield it from the producer's generator after an item, with ``state``
    (JSON data) saying where the producer is (a row number, a file offset, a cursor). It is not an item: readers
    never see it and it costs no credit. When the producer then fails with a failure its retry policy retries, the
    retry is given ``ctx.resume[port]`` (``offset``: the items before the checkpoint; ``state``) and must yield the
    items from that offset on; the host drops those its readers already have (docs/streaming.md, "Checkpoints")::

        @node("py.numbers", output="items")
        def numbers(n: int, ctx: Context) -> Stream[int]:
            resume = ctx.resume.get("items")
            for i in range(resume.state if resume else 0, n):
                yield i
                if (i + 1) % 1000 == 0:
                    yield checkpoint(i + 1)  # a retry starts at i + 1

    It gives a :class:`Checkpoint`, typed ``Any`` so that a generator annotated ``Stream[T]`` may yield it.
    """
    return Checkpoint(state)


class StreamResume:
    """Where a retried producer resumes one of its stream outputs: ``ctx.resume[port]``."""

    __slots__ = ("offset", "state")

    def __init__(self, offset: int, state: Any) -> None:
        self.offset = offset
        """How many items came before the checkpoint: the retry yields items from this one on."""
        self.state = state
        """The state the producer gave with the checkpoint."""

    def __repr__(self) -> str:
        return f"StreamResume(offset={self.offset}, state={self.state!r})"


StreamMode = Literal["", "sync", "async"]
"""Whether a port is a stream, and how the node iterates it: ``""`` one value, ``"sync"`` an iterator,
``"async"`` an async iterator."""

_SYNC_ORIGINS: tuple[Any, ...] = (Iterator, Generator)
_ASYNC_ORIGINS: tuple[Any, ...] = (AsyncIterator, AsyncGenerator)


def stream_item(annotation: Any) -> tuple[Any, StreamMode]:
    """The item annotation of a stream annotation and whether it is sync or async; ``(annotation, "")`` for an
    annotation that is not a stream."""
    bare = annotation
    if typing.get_origin(bare) is typing.Annotated:
        bare = typing.get_args(bare)[0]
    origin = typing.get_origin(bare) or bare
    if origin in _SYNC_ORIGINS or origin in _ASYNC_ORIGINS:
        arguments = typing.get_args(bare)
        item = arguments[0] if arguments else Any
        return item, "sync" if origin in _SYNC_ORIGINS else "async"
    return annotation, ""


def as_iterator(value: object) -> Iterator[Any] | AsyncIterator[Any] | None:
    """What a node returned for a stream output, as the iterator the runtime pulls: a generator or iterator as it
    is, any other iterable (a list, a range) through ``iter``; None for a value that is no stream (a string, bytes
    and mappings are single values, not streams of their parts)."""
    if isinstance(value, Iterator | AsyncIterator):
        return typing.cast("Iterator[Any] | AsyncIterator[Any]", value)
    if isinstance(value, AsyncIterable):
        return aiter(typing.cast("AsyncIterable[Any]", value))
    if isinstance(value, str | bytes | bytearray | memoryview | Mapping):
        return None
    if isinstance(value, Iterable):
        return iter(typing.cast("Iterable[Any]", value))
    return None
