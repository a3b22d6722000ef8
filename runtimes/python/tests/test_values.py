"""Unit tests: value conversion between the wire and pandas, polars, pyarrow, numpy and JSON; blobs."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from conductor_runtime._failure import StepError
from conductor_runtime._ports import PortValueError, port_codec
from conductor_runtime._tables import convert_table, from_arrow, from_ipc, to_arrow, to_ipc
from conductor_runtime._values import ValueCodec, read_blob
from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb

MOMENT = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def typed() -> pa.Table:
    return pa.table(
        {
            "i": pa.array([1, None], pa.int64()),
            "u": pa.array([None, 2], pa.uint16()),
            "b": pa.array([True, None]),
            "s": pa.array([None, "x"]),
            "f": pa.array([1.5, None]),
            "t": pa.array([MOMENT, None], pa.timestamp("us", tz="America/New_York")),
            "ns": pa.array([1, None], pa.timestamp("ns")),
        }
    )


def test_ipc_round_trip_is_exact() -> None:
    assert from_ipc(to_ipc(typed())).equals(typed(), check_metadata=True)


@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_dataframes_round_trip_with_their_types(kind: str) -> None:
    frame = from_arrow(typed(), kind)  # type: ignore[arg-type]
    back = to_arrow(frame)
    assert back.schema.remove_metadata().equals(typed().schema)
    assert back.to_pylist() == typed().to_pylist()


def test_pandas_integers_with_nulls_stay_integers() -> None:
    frame = from_arrow(typed(), "pandas")
    assert str(frame["i"].dtype) == "Int64"
    assert str(frame["u"].dtype) == "UInt16"
    assert frame["i"].isna().tolist() == [False, True]
    assert str(frame["t"].dtype) == "datetime64[us, America/New_York]"


def test_polars_frames_keep_time_zones() -> None:
    frame = from_arrow(typed(), "polars")
    assert frame.schema["t"] == pl.Datetime("us", "America/New_York")
    assert frame.schema["i"] == pl.Int64


def test_numpy_arrays() -> None:
    one = to_arrow(np.array([1.5, 2.5]))
    assert one.column_names == ["values"]
    two = to_arrow(np.array([[1, 2], [3, 4]]))
    assert two.column_names == ["0", "1"]
    back = from_arrow(two, "numpy")
    assert back.tolist() == [[1, 2], [3, 4]]
    assert from_arrow(one, "numpy").tolist() == [1.5, 2.5]
    with pytest.raises(TypeError, match="3 dimensions"):
        to_arrow(np.zeros((1, 1, 1)))


def test_series_travel_as_one_column_tables() -> None:
    assert to_arrow(pd.Series([1, 2], name="n")).column_names == ["n"]
    assert to_arrow(pl.Series("m", [1, 2])).column_names == ["m"]


def test_convert_between_kinds() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    converted = convert_table(frame, "polars")
    assert isinstance(converted, pl.DataFrame)
    assert convert_table(converted, "polars") is converted


def codec(tmp_path: Path | None = None, inline_limit: int = 1 << 20) -> ValueCodec:
    return ValueCodec(inline_limit, str(tmp_path) if tmp_path else None, 64 << 20)


def test_json_ports_validate_strictly_and_keep_big_integers() -> None:
    port = port_codec(int)
    assert port.from_wire(pb.Value(json=b"9007199254740993"), codec()) == 9007199254740993
    with pytest.raises(PortValueError) as raised:
        port.from_wire(pb.Value(json=b'"5"'), codec())
    assert (raised.value.expected, raised.value.found) == ("integer", 'string "5"')
    out = pb.Value()
    port.to_wire(2**70, out, codec())
    assert out.json == str(2**70).encode()


def test_any_port_decodes_by_encoding_and_encodes_by_type() -> None:
    from typing import Any

    port = port_codec(Any)
    assert port.from_wire(pb.Value(json=b'{"a":[1,null]}'), codec()) == {"a": [1, None]}
    assert port.from_wire(pb.Value(raw=b"\x00\x01"), codec()) == b"\x00\x01"
    table = port.from_wire(pb.Value(arrow=to_ipc(typed())), codec())
    assert isinstance(table, pa.Table)
    out = pb.Value()
    port.to_wire(pd.DataFrame({"a": [1]}), out, codec())
    assert out.WhichOneof("kind") == "arrow"
    out = pb.Value()
    port.to_wire(bytearray(b"ab"), out, codec())
    assert out.raw == b"ab"
    out = pb.Value()
    port.to_wire({"when": MOMENT, "nan": float("nan")}, out, codec())
    assert out.json == b'{"when":"2024-01-02T03:04:05.678901Z","nan":null}'


def test_bytes_inside_json_travel_as_the_bytes_form_and_come_back_as_bytes() -> None:
    from typing import Any

    out = pb.Value()
    port_codec(Any).to_wire(
        {"data": b"\x00\x01\xfe\xff", "list": [bytearray(b"hi"), memoryview(b""), (b"x",)], "n": 2**70}, out, codec()
    )
    assert out.json == (
        b'{"data":{"$bytes":"AAH+/w=="},"list":[{"$bytes":"aGk="},{"$bytes":""},[{"$bytes":"eA=="}]],'
        b'"n":1180591620717411303424}'
    )
    assert port_codec(Any).from_wire(out, codec()) == {
        "data": b"\x00\x01\xfe\xff",
        "list": [b"hi", b"", [b"x"]],
        "n": 2**70,
    }

    typed_port = port_codec(dict[str, list[bytes]])
    text = b'{"data":[{"$bytes":"AP8="}]}'
    assert typed_port.from_wire(pb.Value(json=text), codec()) == {"data": [b"\x00\xff"]}
    typed_out = pb.Value()
    typed_port.to_wire({"data": [b"\x00\xff"]}, typed_out, codec())
    assert typed_out.json == text
    # Objects that are not exactly the form (another key, text that is not standard base64) stay objects.
    other = b'{"a":{"$bytes":"AA==","size":1},"b":{"$bytes":"no!"},"c":{"$bytes":"AAA"}}'
    assert port_codec(Any).from_wire(pb.Value(json=other), codec()) == {
        "a": {"$bytes": "AA==", "size": 1},
        "b": {"$bytes": "no!"},
        "c": {"$bytes": "AAA"},
    }


def test_unencodable_values_fail_with_a_clear_type() -> None:
    from typing import Any

    class Opaque:
        pass

    with pytest.raises(StepError) as raised:
        port_codec(Any).to_wire(Opaque(), pb.Value(), codec())
    assert raised.value.failure.type == "value.unencodable"


def test_numpy_scalars_travel_as_the_numbers_they_hold() -> None:
    from typing import Any

    import numpy as np

    out = pb.Value()
    value = {"total": np.int64(9007199254740993), "share": np.float64(0.5), "ok": np.bool_(True), "n": [np.int32(3)]}
    port_codec(Any).to_wire(value, out, codec())
    assert out.json == b'{"total":9007199254740993,"share":0.5,"ok":true,"n":[3]}'


def test_values_over_the_inline_limit_become_blobs(tmp_path: Path) -> None:
    out = pb.Value()
    data = b"x" * 100
    codec(tmp_path, inline_limit=10).put(out, "raw", data)
    digest = hashlib.sha256(data).hexdigest()
    assert out.blob.uri == (tmp_path / digest).as_uri()
    assert (out.blob.size, out.blob.sha256, out.blob.encoding) == (100, digest, pb.BlobRef.ENCODING_RAW)
    assert read_blob(out.blob) == data
    again = pb.Value()
    codec(tmp_path, inline_limit=10).put(again, "raw", data)  # already there: not written twice
    assert again == out
    assert sorted(path.name for path in tmp_path.iterdir()) == [digest]


def test_values_at_the_limit_stay_inline(tmp_path: Path) -> None:
    out = pb.Value()
    codec(tmp_path, inline_limit=10).put(out, "json", b"1234567890")
    assert out.json == b"1234567890"


def test_too_large_without_a_blob_directory_fails() -> None:
    with pytest.raises(StepError) as raised:
        ValueCodec(10, None, 50).put(pb.Value(), "raw", b"x" * 60)
    assert raised.value.failure.type == "value.too-large"


def test_blob_size_mismatch_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "b"
    path.write_bytes(b"abc")
    with pytest.raises(StepError) as raised:
        read_blob(pb.BlobRef(uri=path.as_uri(), size=4))
    assert raised.value.failure.type == "blob.corrupt"
    assert not raised.value.failure.retryable
