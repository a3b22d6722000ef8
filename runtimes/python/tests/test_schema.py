"""Unit tests: how @node derives ports, config and output schemas from a function's type hints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from pydantic import BaseModel, Field

from conductor_runtime import Context, node
from conductor_runtime._catalog import Catalog
from conductor_runtime._node import NodeDefinition, define, registered

ARROW = {"type": "object", "x-conductor-encoding": "arrow"}
RAW = {"type": "string", "contentEncoding": "binary", "x-conductor-encoding": "raw"}


def describe(definition: NodeDefinition) -> dict[str, Any]:
    listing = Catalog({definition.type: definition}).listing().node_types[0]

    def schema(text: str) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(text)
        assert parsed.pop("$schema") == "https://json-schema.org/draft/2020-12/schema"
        return parsed

    return {
        "config": schema(listing.config_schema),
        "inputs": {port.name: (schema(port.schema), port.required) for port in listing.inputs},
        "outputs": {port.name: schema(port.schema) for port in listing.outputs},
    }


class AggregateConfig(BaseModel):
    by: str = Field(description="Column to group by.")
    sum: list[str] = []


class AggregateOutput(BaseModel):
    table: Annotated[pd.DataFrame, Field(description="One row per group.")]
    groups: int

    model_config = {"arbitrary_types_allowed": True}


def test_parameters_become_input_ports_and_config() -> None:
    def aggregate(table: pd.DataFrame, limit: int = 10, *, config: AggregateConfig, ctx: Context) -> AggregateOutput:
        raise NotImplementedError

    definition = define(aggregate, node_type="py.aggregate")
    described = describe(definition)
    assert described["inputs"] == {
        "table": (ARROW, True),
        "limit": ({"default": 10, "type": "integer"}, False),
    }
    assert described["config"]["required"] == ["by"]
    assert described["config"]["properties"]["by"] == {
        "description": "Column to group by.",
        "title": "By",
        "type": "string",
    }
    assert described["outputs"] == {"table": ARROW, "groups": {"type": "integer"}}
    assert definition.context_parameter == "ctx"
    assert definition.executor == "thread"


@pytest.mark.parametrize(
    ("annotation", "schema"),
    [
        (pa.Table, ARROW),
        (pd.DataFrame, ARROW),
        (pl.DataFrame, ARROW),
        (np.ndarray, ARROW),
        (bytes, RAW),
        (Any, {}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (str, {"type": "string"}),
        (bool, {"type": "boolean"}),
        (list[int], {"items": {"type": "integer"}, "type": "array"}),
        (dict[str, float], {"additionalProperties": {"type": "number"}, "type": "object"}),
        (pd.DataFrame | None, {"anyOf": [ARROW, {"type": "null"}]}),
    ],
)
def test_annotations_map_to_schemas(annotation: Any, schema: dict[str, Any]) -> None:
    def function(value: Any) -> Any:
        return value

    function.__annotations__ = {"value": annotation, "return": annotation}
    described = describe(define(function, node_type="t.t"))
    assert described["inputs"]["value"][0] == schema
    assert described["outputs"]["result"] == schema


class Split(TypedDict):
    left: pa.Table
    right: bytes


@dataclass
class Count:
    rows: int


def test_output_rules() -> None:
    def typed(x: int) -> Split:
        raise NotImplementedError

    def counted(x: int) -> Count:
        raise NotImplementedError

    def nothing(x: int) -> None:
        return None

    def untyped(x: Any):
        return x

    def named(x: int) -> int:
        return x

    assert describe(define(typed, node_type="t.t"))["outputs"] == {"left": ARROW, "right": RAW}
    assert describe(define(counted, node_type="t.t"))["outputs"] == {"rows": {"type": "integer"}}
    assert describe(define(nothing, node_type="t.t"))["outputs"] == {}
    assert describe(define(untyped, node_type="t.t"))["outputs"] == {"result": {}}
    assert describe(define(named, node_type="t.t", output="total"))["outputs"] == {"total": {"type": "integer"}}


def test_string_annotations_of_unimported_libraries_are_understood() -> None:
    namespace: dict[str, Any] = {}
    exec(
        "from __future__ import annotations\n"
        "def lazy(table: pd.DataFrame, other: pl.DataFrame | None = None) -> pa.Table:\n"
        "    return table\n",
        namespace,
    )
    described = describe(define(namespace["lazy"], node_type="t.lazy"))
    assert described["inputs"] == {
        "table": (ARROW, True),
        "other": ({"anyOf": [ARROW, {"type": "null"}]}, False),
    }
    assert described["outputs"] == {"result": ARROW}


def test_executor_defaults_and_checks() -> None:
    async def asynchronous() -> None:
        return None

    def synchronous() -> None:
        return None

    def with_context(ctx: Context) -> None:
        return None

    assert define(asynchronous, node_type="t.a").executor == "async"
    assert define(synchronous, node_type="t.s").executor == "thread"
    assert define(synchronous, node_type="t.s", executor="inline").executor == "inline"
    # A process-pool node takes a Context like any other; the worker builds it.
    process = define(with_context, node_type="t.p", executor="process")
    assert (process.executor, process.context_parameter) == ("process", "ctx")
    with pytest.raises(TypeError, match="an async def node runs on the event loop"):
        define(asynchronous, node_type="t.a", executor="thread")


class Opaque:
    pass


def test_unusable_signatures_are_refused_with_the_reason() -> None:
    def variadic(*values: int) -> None:
        return None

    def opaque(value: Opaque) -> None:
        return None

    with pytest.raises(TypeError, match=r"\*values and \*\*values cannot be ports"):
        define(variadic, node_type="t.v")
    with pytest.raises(TypeError, match=r'input "value": .*Opaque is neither JSON data'):
        define(opaque, node_type="t.o")


def test_a_type_cannot_be_declared_by_two_functions() -> None:
    @node("test.unit-once", output="x")
    def first() -> int:
        return 1

    assert "test.unit-once" in registered()
    with pytest.raises(ValueError, match="declared twice"):

        @node("test.unit-once")
        def second() -> int:
            return 2

    assert first() == 1  # the decorator returns the function unchanged
