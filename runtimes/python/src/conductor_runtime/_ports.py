"""How one port's values are typed: the JSON Schema the host sees and the conversions to and from the wire.

A port's Python annotation decides its codec:

- none, ``Any``, ``object``: schema ``{}``; any encoding; the node receives parsed JSON, ``bytes`` or a
  ``pyarrow.Table``;
- ``bytes``: ``{"type":"string","contentEncoding":"binary","x-conductor-encoding":"raw"}``; raw; ``bytes``;
- ``pa.Table``, ``pd.DataFrame``, ``pl.DataFrame``, ``np.ndarray``: ``{"type":"object","x-conductor-encoding":
  "arrow"}``; arrow (a numpy parameter also takes raw bytes, as uint8); that type;
- anything pydantic understands (``int``, models, ``TypedDict``, ``list[str]``, ...): pydantic's schema; JSON,
  validated strictly; that type.

``X | None`` makes a table or bytes port also accept ``null``.

``Stream[X]`` / ``AsyncStream[X]`` (or ``Iterator[X]``, ``AsyncIterator[X]``, ...) make a stream port whose items
are typed by ``X`` as above (see ``_stream``); its codec converts one item, and its schema is the item's.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

from . import _tables
from ._constants import ENCODING_KEYWORD
from ._describe import describe, problems
from ._stream import StreamMode, stream_item
from ._values import ValueCodec, as_bytes, decode_payload, encode_json
from .gen.conductor.runtime.v1 import runtime_pb2 as pb

PortKind = Literal["any", "json", "bytes", "table"]

_BYTES_SCHEMA: dict[str, Any] = {"type": "string", "contentEncoding": "binary", ENCODING_KEYWORD: "raw"}
_TABLE_SCHEMA: dict[str, Any] = {"type": "object", ENCODING_KEYWORD: "arrow"}


class PortValueError(Exception):
    """A value does not fit a port; ``path`` is dotted inside the value, empty for the value itself."""

    def __init__(self, expected: str, found: str, path: str = "") -> None:
        super().__init__(f"expected {expected}, found {found}")
        self.expected = expected
        self.found = found
        self.path = path


@dataclass(frozen=True, slots=True)
class LazyTable:
    """Stands for a table annotation written as a string whose library is not imported (``"pd.DataFrame"``)."""

    kind: _tables.TableKind
    nullable: bool = False


@dataclass(slots=True)
class PortCodec:
    """Converts the values of one port; built once per port when the node is declared."""

    kind: PortKind
    annotation: Any
    table_kind: _tables.TableKind | None = None
    adapter: TypeAdapter[Any] | None = None
    nullable: bool = False
    stream: StreamMode = ""
    """Set for a stream port: the rest of the codec describes and converts one item."""

    def schema(self, mode: Literal["validation", "serialization"]) -> dict[str, Any]:
        """The JSON Schema (2020-12) of the port's values."""
        if self.kind == "json" and self.adapter is not None:
            return self.adapter.json_schema(mode=mode)
        if self.kind == "any":
            return {}
        schema = dict(_BYTES_SCHEMA if self.kind == "bytes" else _TABLE_SCHEMA)
        return {"anyOf": [schema, {"type": "null"}]} if self.nullable else schema

    def expected(self) -> str:
        if self.kind == "bytes":
            return "raw bytes"
        if self.kind == "table":
            return "an Arrow table"
        return "JSON"

    # ------------------------------------------------------------------ wire → node

    def from_wire(self, value: pb.Value, codec: ValueCodec) -> Any:
        """Decodes a wire value into what the node's parameter asks for; raises PortValueError."""
        encoding, data = codec.payload(value)
        kind = self.kind
        if kind == "json" and encoding == "json" and self.adapter is not None:
            try:
                return self.adapter.validate_json(data or b"null", strict=True)
            except ValidationError as error:
                problem = problems(error)[0]
                raise PortValueError(problem.expected, problem.found, problem.path) from None
        if kind == "any":
            return decode_payload(encoding, data)
        if kind == "bytes" and encoding == "raw":
            return data
        if kind == "table":
            if encoding == "arrow":
                return _tables.from_arrow(_tables.from_ipc(data), self.table_kind or "arrow")
            if encoding == "raw" and self.table_kind == "numpy":
                return _tables.array_from_bytes(data)
        if self.nullable and encoding == "json" and decode_payload("json", data) is None:
            return None
        found = "an empty value" if encoding == "empty" else f"a {encoding} value"
        raise PortValueError(self.expected(), found)

    def from_live(self, live: Any) -> Any:
        """Converts an earlier step's output (still a live value) to what this parameter asks for."""
        kind = self.kind
        if kind == "any":
            return live
        if kind == "json" and self.adapter is not None:
            try:
                return self.adapter.validate_python(live, strict=True)
            except ValidationError:
                pass
            # Models, dataclasses and enums of another class but the same shape: compare them as JSON.
            try:
                return self.adapter.validate_json(encode_json(live), strict=True)
            except ValidationError as error:
                problem = problems(error)[0]
                raise PortValueError(problem.expected, problem.found, problem.path) from None
        if live is None and self.nullable:
            return None
        data = as_bytes(live)
        if kind == "bytes" and data is not None:
            return data
        if kind == "table":
            if _tables.table_kind_of_value(live) is not None:
                return _tables.convert_table(live, self.table_kind or "arrow")
            if self.table_kind == "numpy" and data is not None:
                return _tables.array_from_bytes(data)
        raise PortValueError(self.expected(), describe(live))

    # ------------------------------------------------------------------ node → wire

    def to_wire(self, live: Any, out: pb.Value, codec: ValueCodec) -> None:
        """Encodes a node's output for this port."""
        kind = self.kind
        if kind == "json":
            codec.put(out, "json", encode_json(live))
        elif kind == "any" or live is None:
            codec.encode(live, out)
        elif kind == "bytes" and (data := as_bytes(live)) is not None:
            codec.put(out, "raw", data)
        elif kind == "table" and _tables.table_kind_of_value(live) is not None:
            codec.put(out, "arrow", _tables.to_ipc(live))
        else:
            raise PortValueError(self.expected(), describe(live))


def port_codec(annotation: Any) -> PortCodec:
    """Chooses the codec for an annotation (see the module's table); raises TypeError for unusable ones."""
    item, mode = stream_item(annotation)
    if mode:
        codec = port_codec(item)
        if codec.stream:
            raise TypeError(f"{_name(annotation)} is a stream of streams; a stream's items are single values")
        codec.stream = mode
        return codec
    if annotation is Any or annotation is object or annotation is None:
        return PortCodec("any", annotation)
    bare, nullable = _strip(annotation)
    if isinstance(bare, LazyTable):
        return PortCodec("table", annotation, table_kind=bare.kind, nullable=nullable or bare.nullable)
    if bare is bytes or bare is bytearray:
        return PortCodec("bytes", annotation, nullable=nullable)
    table_kind = _tables.table_kind_of_class(typing.get_origin(bare) or bare)
    if table_kind is not None:
        return PortCodec("table", annotation, table_kind=table_kind, nullable=nullable)
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    except PydanticSchemaGenerationError as error:
        raise TypeError(
            f"{_name(annotation)} is neither JSON data pydantic can validate, bytes, nor a table or array type"
        ) from error
    return PortCodec("json", annotation, adapter=adapter)


def _strip(annotation: Any) -> tuple[Any, bool]:
    """Removes ``Annotated`` and ``| None``: returns the inner annotation and whether None was allowed."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return _strip(args[0])[0], True
    return annotation, False


def _name(annotation: Any) -> str:
    return getattr(annotation, "__qualname__", None) or repr(annotation)
