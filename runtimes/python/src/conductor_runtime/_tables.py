"""Tables and arrays: pyarrow, pandas, polars and numpy values to and from Arrow IPC stream bytes.

Every import of these libraries happens inside a function, because importing pandas alone costs more than the
runtime's whole cold start; a value that is a DataFrame cannot exist before its library is imported, so
``sys.modules`` tells whether a live value can be one.

Type fidelity is the point of this module: integers stay integers (pandas gets nullable ``Int64``-style dtypes,
so a null does not turn a column into floats), nulls stay nulls, timestamps keep their unit and time zone.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Literal

TableKind = Literal["arrow", "batch", "pandas", "polars", "numpy"]
"""``batch`` is a ``pyarrow.RecordBatch``: the item of a stream of Arrow batches (docs/streaming.md)."""

# (module prefix, class name) of each table class, matched by name so that nothing is imported to recognise it.
_CLASS_KINDS: dict[tuple[str, str], TableKind] = {
    ("pyarrow", "Table"): "arrow",
    ("pyarrow", "RecordBatch"): "batch",
    ("pandas", "DataFrame"): "pandas",
    ("polars", "DataFrame"): "polars",
    ("numpy", "ndarray"): "numpy",
}

# Spellings accepted in string annotations that cannot be resolved because the library is imported only under
# TYPE_CHECKING (which keeps a node module's import cheap).
ANNOTATION_KINDS: dict[str, TableKind] = {
    "pa.Table": "arrow",
    "pyarrow.Table": "arrow",
    "pa.RecordBatch": "batch",
    "pyarrow.RecordBatch": "batch",
    "pd.DataFrame": "pandas",
    "pandas.DataFrame": "pandas",
    "pl.DataFrame": "polars",
    "polars.DataFrame": "polars",
    "np.ndarray": "numpy",
    "numpy.ndarray": "numpy",
}

_MAX_NARROW_BYTES = 2**31 - 1


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(
            f"{name} is needed for this value but is not installed; install conductor-runtime[data]"
        ) from error


def table_kind_of_class(cls: object) -> TableKind | None:
    """The table kind of an annotation class (``pd.DataFrame`` → ``"pandas"``), or ``None``."""
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__name__", None)
    if not isinstance(module, str) or not isinstance(name, str):
        return None
    return _CLASS_KINDS.get((module.split(".", 1)[0], name))


def table_kind_of_value(value: object) -> TableKind | None:
    """The table kind of a live value, or ``None`` when it is not a table or array."""
    module = type(value).__module__.split(".", 1)[0]
    if module not in ("pyarrow", "pandas", "polars", "numpy"):
        return None
    kind = table_kind_of_class(type(value))
    if kind is not None:
        return kind
    # Subclasses and series: ask the library, which is imported already since the value exists.
    if module == "pandas" and isinstance(value, sys.modules["pandas"].Series):
        return "pandas"
    if module == "polars" and isinstance(value, sys.modules["polars"].Series):
        return "polars"
    return None


def to_arrow(value: Any) -> Any:
    """Converts a pyarrow Table or RecordBatch, a pandas or polars DataFrame or Series or a numpy array to a
    ``pyarrow.Table``. Arrays: 1-D gives one column named ``values``, 2-D one column per array column, named
    ``"0"``, ``"1"``, ...
    """
    kind = table_kind_of_value(value)
    pa = _module("pyarrow")
    if kind == "batch":
        return pa.Table.from_batches([value])
    if kind == "arrow":
        return value
    if kind == "pandas":
        pd = sys.modules["pandas"]
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        return _narrow(pa, pa.Table.from_pandas(_index_as_columns(pd, frame), preserve_index=False))
    if kind == "polars":
        pl = sys.modules["polars"]
        frame = value.to_frame() if isinstance(value, pl.Series) else value
        return _narrow(pa, frame.to_arrow(compat_level=pl.CompatLevel.oldest()))
    if kind == "numpy":
        if value.ndim == 1:
            return pa.table({"values": pa.array(value)})
        if value.ndim == 2:
            return pa.table({str(index): pa.array(value[:, index]) for index in range(value.shape[1])})
        raise TypeError(f"a numpy array with {value.ndim} dimensions cannot travel as a table; use 1 or 2")
    raise TypeError(f"{type(value).__qualname__} is not a table")


def _index_as_columns(pd: Any, frame: Any) -> Any:
    """A frame whose index is worth keeping as columns: a named index (``groupby("region")`` gives one) becomes
    ordinary columns named after it; an unnamed one (row numbers, kept after filtering or sorting) is dropped.

    Because Arrow has no index, pyarrow would otherwise add an unnamed index as a column called
    ``__index_level_0__``, which leaks into every consumer of the table (a TypeScript node, a Rust node, the
    debugger)."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) or all(name is None for name in index.names):
        return frame
    return frame.reset_index()


def _narrow(pa: Any, table: Any) -> Any:
    """Casts large_string/large_binary/string_view columns (what pandas and polars export) back to string/binary
    when they fit, so a table keeps the types it had before it went through pandas or polars."""
    types = pa.types
    fields = list(table.schema)
    changed = False
    for index, field in enumerate(fields):
        target = None
        if types.is_large_string(field.type) or types.is_string_view(field.type):
            target = pa.string()
        elif types.is_large_binary(field.type) or types.is_binary_view(field.type):
            target = pa.binary()
        if target is not None and table.column(index).nbytes < _MAX_NARROW_BYTES:
            fields[index] = field.with_type(target)
            changed = True
    return table.cast(pa.schema(fields, metadata=table.schema.metadata)) if changed else table


def to_ipc(value: Any) -> bytes:
    """Encodes any table-like value as Arrow IPC stream bytes."""
    pa = _module("pyarrow")
    sink = pa.BufferOutputStream()
    if isinstance(value, pa.RecordBatch):  # a stream's item: no table around it
        with pa.ipc.new_stream(sink, value.schema) as writer:
            writer.write_batch(value)
        return sink.getvalue().to_pybytes()
    table = to_arrow(value)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    result: bytes = sink.getvalue().to_pybytes()
    return result


def from_ipc(data: bytes) -> Any:
    """Decodes Arrow IPC stream bytes to a ``pyarrow.Table`` without copying the buffers."""
    pa = _module("pyarrow")
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()


def from_arrow(table: Any, kind: TableKind) -> Any:
    """Converts a ``pyarrow.Table`` to the kind a node's parameter asks for."""
    if kind == "arrow":
        return table
    if kind == "batch":
        return as_batch(table)
    if kind == "pandas":
        pd = _module("pandas")
        return table.to_pandas(types_mapper=_pandas_types_mapper(pd, _module("pyarrow")))
    if kind == "polars":
        return _module("polars").from_arrow(table)
    np = _module("numpy")
    columns = [column.to_numpy(zero_copy_only=False) for column in table.columns]
    if len(columns) == 1:
        return columns[0]
    return np.column_stack(columns)


def convert_table(value: Any, kind: TableKind) -> Any:
    """Converts a live table of any kind to ``kind`` (a no-op when it already is one)."""
    if table_kind_of_value(value) == kind:
        return value
    return from_arrow(to_arrow(value), kind)


def as_batch(table: Any) -> Any:
    """A ``pyarrow.Table`` as one ``RecordBatch`` (its chunks combined; an empty table gives an empty batch)."""
    batches = table.combine_chunks().to_batches()
    if batches:
        return batches[0]
    return _module("pyarrow").RecordBatch.from_pylist([], schema=table.schema)


def array_from_bytes(data: bytes) -> Any:
    """Raw bytes given to a numpy parameter: a uint8 array over the bytes."""
    return _module("numpy").frombuffer(data, dtype="uint8")


_mapper_cache: dict[int, Any] = {}


def _pandas_types_mapper(pd: Any, pa: Any) -> Any:
    """Arrow integer and boolean types → pandas nullable dtypes, so nulls do not turn integers into floats."""
    cached = _mapper_cache.get(id(pd))
    if cached is None:
        mapping = {
            pa.int8(): pd.Int8Dtype(),
            pa.int16(): pd.Int16Dtype(),
            pa.int32(): pd.Int32Dtype(),
            pa.int64(): pd.Int64Dtype(),
            pa.uint8(): pd.UInt8Dtype(),
            pa.uint16(): pd.UInt16Dtype(),
            pa.uint32(): pd.UInt32Dtype(),
            pa.uint64(): pd.UInt64Dtype(),
            pa.bool_(): pd.BooleanDtype(),
        }
        cached = _mapper_cache[id(pd)] = mapping.get
    return cached
