"""The authoring examples of README.md, run exactly as written in a real runtime."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import RuntimeProcess, connect, decode_json, kind, step

README = Path(__file__).parent.parent / "README.md"


def readme_modules(directory: Path) -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    names: list[str] = []
    for index, block in enumerate(blocks):
        name = f"readme_example_{index}"
        # A block in a list item is indented with it.
        (directory / f"{name}.py").write_text(textwrap.dedent(block))
        names.append(name)
    return names


def arrow_value(table: pa.Table) -> pb.Value:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pb.Value(arrow=sink.getvalue().to_pybytes())


async def test_readme_examples_serve_and_run(tmp_path: Path, spawn: Callable[..., RuntimeProcess]) -> None:
    modules = readme_modules(tmp_path)
    assert len(modules) == 4
    runtime = spawn(modules=modules, arguments=["--path", str(tmp_path)])
    table = pa.table({"region": ["north", "south", "north"], "units": [1, 2, 3]})
    async with connect(runtime) as client, client.session() as session:
        scaled = await session.run(1, step("py.scale", inputs={"values": [1, 2.5]}))
        empty = await session.run(2, step("py.scale", config={"factor": 3}, inputs={"values": []}))
        totals = await session.run(3, step("py.totals", inputs={"table": arrow_value(table)}))
        await session.execute(4, [step("py.lines", inputs={"text": "a\nbbb\ncc"})], credits={(0, "lines"): 64})
        lines = await session.finished(4)
        await session.execute(5, [step("py.count", inputs={"n": 2})], credits={(0, "items"): 64})
        counted = await session.finished(5)
        await session.execute(6, [step("py.longest", inputs={"lines": stream_source("lines")})])
        await session.wait_until(lambda: session.granted(6, 0, "lines") > 0)
        await session.send_items(6, 0, "lines", [chunk.chunk.value for chunk in lines if kind(chunk) == "chunk"])
        await session.send_items(6, 0, "lines", end=True)
        longest = await session.finished(6)
        await session.execute(7, [step("py.rows", inputs={"batches": stream_source("batches")})])
        await session.wait_until(lambda: session.granted(7, 0, "batches") > 0)
        await session.send_items(7, 0, "batches", [arrow_value(table), arrow_value(table)], end=True)
        rows = await session.finished(7)
        await session.execute(8, [step("py.numbers", inputs={"n": 2500})], credits={(0, "items"): 4096})
        numbers = await session.finished(8)
        retry = step("py.numbers", inputs={"n": 2500}, attempt=2)
        retry.resume.add(port="items", offset=2000, state=pb.Value(json=b"2000"))
        await session.execute(9, [retry], credits={(0, "items"): 4096})
        resumed = await session.finished(9)
    assert [kind(event) for event in scaled] == ["started", "log", "completed"]
    assert decode_json(scaled[-1].completed.outputs["result"]) == [2.0, 5.0]
    assert empty[-1].failed.failure.type == "input.empty"
    outputs = totals[-1].completed.outputs
    assert decode_json(outputs["groups"]) == 2
    with pa.ipc.open_stream(pa.py_buffer(outputs["table"].arrow)) as reader:
        assert reader.read_all().to_pylist() == [{"region": "north", "units": 4}, {"region": "south", "units": 2}]
    assert [decode_json(event.chunk.value) for event in lines if kind(event) == "chunk"] == ["a", "bbb", "cc"]
    assert [decode_json(event.chunk.value) for event in counted if kind(event) == "chunk"] == [0, 1]
    assert decode_json(counted[-1].completed.outputs["total"]) == 2
    assert decode_json(longest[-1].completed.outputs["longest"]) == "bbb"
    assert decode_json(rows[-1].completed.outputs["rows"]) == 6
    assert [decode_json(event.chunk.value) for event in numbers if kind(event) == "chunk"] == list(range(2500))
    assert [decode_json(event.checkpoint.state) for event in numbers if kind(event) == "checkpoint"] == [1000, 2000]
    assert [decode_json(event.chunk.value) for event in resumed if kind(event) == "chunk"] == list(range(2000, 2500))


def stream_source(port: str) -> pb.Input:
    return pb.Input(stream=pb.StreamSource(node_id="producer", port=port))
