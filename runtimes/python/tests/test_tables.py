"""Arrow conversion of pandas frames: the index never leaks into a table as ``__index_level_0__``."""

from __future__ import annotations

import pandas as pd

from conductor_runtime._tables import to_arrow


def test_a_filtered_frame_gives_no_index_column() -> None:
    frame = pd.DataFrame({"region": ["n", "s", "e"], "units": [1, 2, 3]})
    kept = frame[frame["units"] > 1]  # index 1, 2: no longer a RangeIndex
    table = to_arrow(kept)
    assert table.column_names == ["region", "units"]
    assert table.column("units").to_pylist() == [2, 3]


def test_a_named_index_becomes_a_column() -> None:
    frame = pd.DataFrame({"region": ["n", "s", "n"], "units": [1, 2, 3]})
    table = to_arrow(frame.groupby("region").sum())
    assert table.column_names == ["region", "units"]
    assert table.column("region").to_pylist() == ["n", "s"]
    assert table.column("units").to_pylist() == [4, 2]


def test_a_plain_frame_keeps_its_columns() -> None:
    table = to_arrow(pd.DataFrame({"a": [1, 2]}))
    assert table.column_names == ["a"]
