"""ListNodeTypes and ValidateConfig over the wire."""

from __future__ import annotations

import json
from collections.abc import Callable

from conductor_runtime.gen.conductor.runtime.v1 import runtime_pb2 as pb
from harness import RuntimeProcess, connect, json_value

CONFORMANCE_TYPES = {
    "conformance.echo",
    "conformance.produce",
    "conformance.add",
    "conformance.fail",
    "conformance.throw",
    "conformance.sleep",
    "conformance.report",
    "conformance.crash",
    "conformance.print",
}


async def list_types(runtime: RuntimeProcess) -> dict[str, pb.NodeType]:
    async with connect(runtime) as client:
        response = await client.stub.ListNodeTypes(pb.ListNodeTypesRequest(), metadata=client.metadata)
    return {node_type.type: node_type for node_type in response.node_types}


async def test_lists_every_conformance_node_type_with_its_flags(runtime: RuntimeProcess) -> None:
    types = await list_types(runtime)
    assert set(types) >= CONFORMANCE_TYPES
    flags = {name: types[name].flags for name in CONFORMANCE_TYPES}
    assert (flags["conformance.add"].idempotent, flags["conformance.add"].deterministic) == (True, True)
    assert flags["conformance.sleep"].cancellable
    assert flags["conformance.report"].streaming
    for name in CONFORMANCE_TYPES - {"conformance.add", "conformance.sleep", "conformance.report"}:
        assert flags[name] == pb.NodeFlags(), name


async def test_ports_and_schemas_follow_the_signatures(runtime: RuntimeProcess) -> None:
    types = await list_types(runtime)
    add = types["conformance.add"]
    assert [(port.name, port.required) for port in add.inputs] == [("a", True), ("b", True)]
    assert json.loads(add.inputs[0].schema) == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "number",
    }
    assert [port.name for port in add.outputs] == ["sum"]
    config = json.loads(add.config_schema)
    assert config["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert config["properties"]["offset"]["type"] == "number"
    assert "required" not in config
    produce = json.loads(types["conformance.produce"].config_schema)
    assert produce["properties"]["kind"]["enum"] == ["json", "bytes", "arrow", "large"]
    assert produce["required"] == ["kind"]
    assert [port.name for port in types["conformance.report"].outputs] == ["done"]
    assert [port.name for port in types["conformance.sleep"].outputs] == ["slept_ms"]
    assert types["conformance.crash"].outputs == []
    assert json.loads(types["conformance.echo"].inputs[0].schema) == {
        "$schema": "https://json-schema.org/draft/2020-12/schema"
    }


async def test_table_and_bytes_ports_carry_the_encoding_marker(runtime: RuntimeProcess) -> None:
    types = await list_types(runtime)
    table = json.loads(types["test.pandas-identity"].inputs[0].schema)
    assert (table["type"], table["x-conductor-encoding"]) == ("object", "arrow")
    data = json.loads(types["test.bytes-length"].inputs[0].schema)
    assert (data["type"], data["contentEncoding"], data["x-conductor-encoding"]) == (
        "string",
        "binary",
        "raw",
    )
    optional = types["test.optional-table"].inputs[0]
    assert not optional.required
    assert json.loads(optional.schema)["anyOf"][1] == {"type": "null"}
    model = types["test.model-output"]
    assert [(port.name, port.required) for port in model.inputs] == [("x", True), ("y", False)]
    assert [(port.name, port.required) for port in model.outputs] == [("total", True), ("label", True)]
    halves = types["test.typeddict-output"]
    assert [(port.name, port.required) for port in halves.outputs] == [("low", True), ("high", True), ("note", False)]
    assert [(port.name, port.required) for port in types["conformance.add"].outputs] == [("sum", True)]


async def test_schema_hash_is_stable_and_tracks_the_node_types(
    runtime: RuntimeProcess, spawn: Callable[..., RuntimeProcess]
) -> None:
    async with connect(runtime) as client:
        first = await client.stub.Handshake(pb.HandshakeRequest(abi_versions=[1]), metadata=client.metadata)
        second = await client.stub.Handshake(pb.HandshakeRequest(abi_versions=[1]), metadata=client.metadata)
    assert first.schema_hash == second.schema_hash
    other = spawn(modules=["conductor_runtime.conformance"])
    async with connect(other) as client:
        fewer = await client.stub.Handshake(pb.HandshakeRequest(abi_versions=[1]), metadata=client.metadata)
    assert fewer.schema_hash != first.schema_hash


async def validate(runtime: RuntimeProcess, node_type: str, config: object) -> list[pb.Diagnostic]:
    async with connect(runtime) as client:
        response = await client.stub.ValidateConfig(
            pb.ValidateConfigRequest(node_type=node_type, config=json_value(config)), metadata=client.metadata
        )
    return list(response.diagnostics)


async def test_validate_config_accepts_a_valid_config(runtime: RuntimeProcess) -> None:
    assert await validate(runtime, "conformance.produce", {"kind": "arrow"}) == []
    assert await validate(runtime, "conformance.echo", {}) == []


async def test_validate_config_names_dotted_paths_expected_and_found(runtime: RuntimeProcess) -> None:
    diagnostics = await validate(runtime, "test.nested-config", {"headers": {"accept": 5}, "items": [1, 2, "x"]})
    found = {(item.path, item.expected, item.found) for item in diagnostics}
    assert found == {("headers.accept", "string", "integer 5"), ("items.2", "integer", 'string "x"')}
    assert all(item.severity == pb.Diagnostic.SEVERITY_ERROR for item in diagnostics)
    message = next(item.message for item in diagnostics if item.path == "headers.accept")
    assert message == "headers.accept: expected string, found integer 5"


async def test_validate_config_reports_missing_fields_and_literals(runtime: RuntimeProcess) -> None:
    missing = await validate(runtime, "conformance.fail", {"message": "x"})
    assert [(item.path, item.expected, item.found) for item in missing] == [("retryable", "a value", "nothing")]
    literal = await validate(runtime, "conformance.produce", {"kind": "csv"})
    assert literal[0].path == "kind"
    assert literal[0].expected == "one of 'json', 'bytes', 'arrow' or 'large'"
    assert literal[0].found == 'string "csv"'


async def test_validate_config_reports_a_union_once_at_its_own_path(runtime: RuntimeProcess) -> None:
    diagnostics = await validate(runtime, "conformance.add", {"offset": "ten"})
    assert [(item.path, item.expected, item.found) for item in diagnostics] == [("offset", "number", 'string "ten"')]


async def test_validate_config_of_an_unknown_type(runtime: RuntimeProcess) -> None:
    diagnostics = await validate(runtime, "nope.nothing", {})
    assert len(diagnostics) == 1
    assert diagnostics[0].message.startswith('unknown node type "nope.nothing"')


async def test_validate_config_refuses_an_unknown_key_naming_the_one_it_meant(runtime: RuntimeProcess) -> None:
    diagnostics = await validate(runtime, "test.nested-config", {"headers": {"accept": "x"}, "itms": [1]})
    assert [(item.path, item.message) for item in diagnostics] == [
        ("itms", 'config "itms": unknown field; did you mean "items"?')
    ]


async def test_a_config_model_is_published_strict(runtime: RuntimeProcess) -> None:
    async with connect(runtime) as client:
        listing = await client.stub.ListNodeTypes(pb.ListNodeTypesRequest(), metadata=client.metadata)
    nested = next(node for node in listing.node_types if node.type == "test.nested-config")
    assert json.loads(nested.config_schema)["additionalProperties"] is False
