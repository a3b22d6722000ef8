"""The example nodes of runtimes/python/examples/sales_nodes.py, as the demo runs them."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from harness import EXAMPLES_DIR, RuntimeProcess, connect, decode_json, kind, ref, step


def read_arrow(data: bytes) -> pa.Table:
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()


async def test_read_csv_then_aggregate_in_one_invocation(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(
            1,
            step("py.read-csv", node_id="load", config={"path": str(EXAMPLES_DIR / "sales.csv")}),
            step(
                "py.aggregate",
                node_id="stats",
                config={"by": "region", "sum": ["units", "revenue"]},
                inputs={"table": ref(0, "table")},
            ),
        )
    assert [kind(event) for event in events if kind(event) != "log"] == [
        "started",
        "completed",
        "started",
        "completed",
    ]
    loaded = read_arrow(events[-3].completed.outputs["table"].arrow)
    assert loaded.num_rows == 5
    assert loaded.column("units").type == pa.int64()
    result = read_arrow(events[-1].completed.outputs["table"].arrow)
    assert result.select(["region", "units", "revenue", "rows"]).to_pylist() == [
        {"region": "east", "units": 5, "revenue": 49.95, "rows": 1},
        {"region": "north", "units": 5, "revenue": 79.47, "rows": 2},
        {"region": "south", "units": 5, "revenue": 108.99, "rows": 2},
    ]


async def test_missing_file_and_column_fail_clearly(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client, client.session() as session:
        missing = await session.run(1, step("py.read-csv", config={"path": "/nonexistent/sales.csv"}))
        column = await session.run(
            2,
            step("py.read-csv", config={"path": str(EXAMPLES_DIR / "sales.csv")}),
            step("py.aggregate", config={"by": "city"}, inputs={"table": ref(0, "table")}),
        )
    assert missing[-1].failed.failure.type == "file.missing"
    assert not missing[-1].failed.failure.retryable
    failure = column[-1].failed.failure
    assert failure.type == "column.missing"
    assert failure.message.startswith('the table has no column "city"')


async def test_add_one_chain_of_ten_steps(runtime: RuntimeProcess) -> None:
    steps = [step("py.add-one", node_id="n0", inputs={"x": 0})]
    steps += [step("py.add-one", node_id=f"n{index}", inputs={"x": ref(index - 1, "x")}) for index in range(1, 10)]
    async with connect(runtime) as client, client.session() as session:
        events = await session.run(1, *steps)
    assert decode_json(events[-1].completed.outputs["x"]) == 10
    assert len(events) == 20
    # Inline steps finish within one turn of the loop, so the whole chain leaves in one response.
    assert [len(batch) for batch in session.responses] == [20]


async def test_node_modules_do_not_load_table_libraries_at_start(spawn: Callable[..., RuntimeProcess]) -> None:
    fresh = spawn()
    async with connect(fresh) as client, client.session() as session:
        events = await session.run(1, step("test.modules-loaded"))
    assert decode_json(events[-1].completed.outputs["loaded"]) == []
