"""The wire form of values: encoding live Python values into ``Value`` messages and back, blobs included.

A live value travels as (docs/protocol.md, section 3.2):

- ``bytes``/``bytearray``/``memoryview`` → ``raw``;
- a pyarrow Table or RecordBatch, a pandas or polars DataFrame or Series, a numpy array → ``arrow`` (IPC stream);
- anything else → ``json``, serialized by pydantic (models, dataclasses, datetimes, big integers kept exact);
  bytes nested in a dict, list or tuple are written ``{"$bytes": "<base64>"}`` and read back as ``bytes``
  (section 3.2, "Bytes inside JSON").

An encoding larger than the inline limit is written to the blob directory and sent as a ``BlobRef``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import unquote, urlparse

from pydantic_core import PydanticSerializationError, to_json

from . import _tables
from ._failure import StepError
from .gen.conductor.runtime.v1 import runtime_pb2 as pb

_ENCODINGS: Final = {
    "json": pb.BlobRef.ENCODING_JSON,
    "raw": pb.BlobRef.ENCODING_RAW,
    "arrow": pb.BlobRef.ENCODING_ARROW,
}
_ENCODING_KINDS: Final = {
    pb.BlobRef.ENCODING_JSON: "json",
    pb.BlobRef.ENCODING_RAW: "raw",
    pb.BlobRef.ENCODING_ARROW: "arrow",
    pb.BlobRef.ENCODING_UNSPECIFIED: "raw",
}


class ValueCodec:
    """Encodes and decodes values with the limits the host gave in the environment.

    Args:
        inline_limit: encodings larger than this many bytes become blobs (``CONDUCTOR_INLINE_LIMIT``).
        blob_dir: where blobs are written (``CONDUCTOR_BLOB_DIR``); without it every value stays inline.
        max_message_bytes: the gRPC message limit; an inline value above it fails instead of breaking the session.
    """

    __slots__ = ("blob_dir", "inline_limit", "max_message_bytes")

    def __init__(self, inline_limit: int, blob_dir: str | None, max_message_bytes: int) -> None:
        self.inline_limit = inline_limit
        self.blob_dir = blob_dir
        self.max_message_bytes = max_message_bytes

    # ------------------------------------------------------------------ decoding

    def payload(self, value: pb.Value) -> tuple[str, bytes]:
        """The encoding (``json``, ``raw``, ``arrow``) and bytes of a value, reading a blob if it is one."""
        kind = value.WhichOneof("kind")
        if kind == "json":
            return "json", value.json
        if kind == "raw":
            return "raw", value.raw
        if kind == "arrow":
            return "arrow", value.arrow
        if kind == "blob":
            return _ENCODING_KINDS.get(value.blob.encoding, "raw"), read_blob(value.blob)
        return "empty", b""

    def decode(self, value: pb.Value) -> Any:
        """Decodes a value into its natural live form: parsed JSON, ``bytes`` or a ``pyarrow.Table``."""
        kind, data = self.payload(value)
        return decode_payload(kind, data)

    # ------------------------------------------------------------------ encoding

    def encode(self, live: Any, out: pb.Value) -> None:
        """Encodes a live value into ``out``, choosing the encoding from the value's type."""
        data = as_bytes(live)
        if data is not None:
            self.put(out, "raw", data)
        elif _tables.table_kind_of_value(live) is not None:
            self.put(out, "arrow", _tables.to_ipc(live))
        else:
            self.put(out, "json", encode_json(live))

    def put(self, out: pb.Value, kind: str, data: bytes) -> None:
        """Stores already encoded bytes in ``out``, inline or as a blob depending on their size."""
        if len(data) > self.inline_limit and self.blob_dir:
            out.blob.CopyFrom(write_blob(self.blob_dir, data, _ENCODINGS[kind]))
        elif len(data) >= self.max_message_bytes:
            raise StepError(
                f"value of {len(data)} bytes exceeds the message limit of {self.max_message_bytes} bytes and "
                "there is no blob directory (CONDUCTOR_BLOB_DIR) to put it in",
                "value.too-large",
            )
        elif kind == "json":
            out.json = data
        elif kind == "arrow":
            out.arrow = data
        else:
            out.raw = data


def as_bytes(value: object) -> bytes | None:
    """The value as ``bytes`` if it is bytes-like (``bytes``, ``bytearray``, ``memoryview``), else None."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, memoryview):
        return value.tobytes()
    return None


BYTES_KEY: Final = "$bytes"
"""The reserved key of bytes inside a JSON value: ``{"$bytes": "<base64>"}`` (docs/protocol.md, section 3.2)."""

_BYTES_MARK: Final = b'"$bytes"'
_BASE64: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_BYTES_TYPES: Final = (bytes, bytearray, memoryview)
_SCALARS: Final = (str, int, float, bool, type(None))


def _bytes_from_json(obj: dict[str, Any]) -> Any:
    """``object_hook``: the form ``{"$bytes": "<standard base64>"}`` (that one key) becomes ``bytes``."""
    if len(obj) == 1:
        text = obj.get(BYTES_KEY)
        if isinstance(text, str) and _BASE64.fullmatch(text):
            try:
                return base64.b64decode(text, validate=True)
            except binascii.Error:
                return obj
    return obj


def parse_json(data: bytes) -> Any:
    """Parses a ``json`` value's text; bytes nested in it as ``{"$bytes": ...}`` become ``bytes``. Text without the
    key costs what ``json.loads`` costs."""
    if _BYTES_MARK in data:
        return json.loads(data, object_hook=_bytes_from_json)
    return json.loads(data)


def has_json_bytes(data: bytes) -> bool:
    """Whether a ``json`` value's text may hold bytes in the ``{"$bytes": ...}`` form."""
    return _BYTES_MARK in data


def _contains_bytes(value: Any) -> bool:
    items: Iterable[Any] = cast("dict[Any, Any]", value).values() if isinstance(value, dict) else value
    for item in items:
        if isinstance(item, _SCALARS):
            continue
        if isinstance(item, _BYTES_TYPES):
            return True
        if isinstance(item, (dict, list, tuple)) and _contains_bytes(item):
            return True
    return False


def _holds_bytes(value: Any) -> bool:
    return isinstance(value, (dict, list, tuple)) and _contains_bytes(value)


def _bytes_as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _bytes_as_json(item) for key, item in cast("dict[Any, Any]", value).items()}
    if isinstance(value, (list, tuple)):
        return [_bytes_as_json(item) for item in cast("Iterable[Any]", value)]
    if isinstance(value, _BYTES_TYPES):
        return {BYTES_KEY: base64.b64encode(cast("bytes", value)).decode("ascii")}
    return value


def decode_payload(kind: str, data: bytes) -> Any:
    if kind == "json":
        return parse_json(data) if data else None
    if kind == "arrow":
        return _tables.from_ipc(data)
    if kind == "raw":
        return data
    raise StepError("value has no content (none of json, raw, arrow, blob is set)", "value.empty")


def _numpy_scalar(value: Any) -> Any:
    """A numpy scalar (``df["n"].sum()`` gives a ``numpy.int64``) as the Python number or bool it holds, so an int64
    travels as a JSON number with every digit; anything else stays unencodable."""
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    raise TypeError(type(value).__qualname__)


def encode_json(live: Any) -> bytes:
    """Serializes a live value as JSON text (UTF-8); NaN and infinities become null, as JSON has neither. numpy
    scalars become the numbers they hold; bytes nested in dicts, lists and tuples become ``{"$bytes": base64}``."""
    # Because pydantic writes bytes as a UTF-8 string (or fails on other bytes), nested bytes are replaced first;
    # the walk that finds them costs a fraction of the serialization.
    if _holds_bytes(live):
        live = _bytes_as_json(live)
    try:
        return to_json(live, by_alias=True, inf_nan_mode="null")
    except PydanticSerializationError as error:
        # Because a fallback costs on every value, it is tried only once the plain serialization has failed.
        try:
            return to_json(live, by_alias=True, inf_nan_mode="null", fallback=_numpy_scalar)
        except PydanticSerializationError:
            pass
        raise StepError(
            f"a value of type {type(live).__qualname__} cannot be encoded as JSON ({error}); "
            "return JSON data, bytes, a table or a pydantic model",
            "value.unencodable",
        ) from error


def write_blob(blob_dir: str, data: bytes, encoding: pb.BlobRef.Encoding.ValueType) -> pb.BlobRef:
    """Writes bytes to the blob directory under their SHA-256 (temp file + rename: readers never see a part)."""
    digest = hashlib.sha256(data).hexdigest()
    path = Path(blob_dir).absolute() / digest
    try:
        exists = path.stat().st_size == len(data)
    except OSError:
        exists = False
    if not exists:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f"{digest}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        temp.write_bytes(data)
        os.replace(temp, path)
    return pb.BlobRef(uri=path.as_uri(), size=len(data), sha256=digest, encoding=encoding)


def read_blob(ref: pb.BlobRef) -> bytes:
    """Reads a blob, checking its size against the reference (a mismatch is ``blob.corrupt``)."""
    parsed = urlparse(ref.uri)
    if parsed.scheme != "file":
        raise StepError(f"blob {ref.uri} is not a file:// URI", "blob.corrupt")
    try:
        data = Path(unquote(parsed.path)).read_bytes()
    except OSError as error:
        raise StepError(f"blob {ref.uri} cannot be read: {error.strerror or error}", "blob.corrupt") from error
    if len(data) != ref.size:
        raise StepError(f"blob {ref.uri} has {len(data)} bytes, its reference says {ref.size}", "blob.corrupt")
    return data
