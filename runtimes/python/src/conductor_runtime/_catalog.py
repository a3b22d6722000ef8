"""The node types one runtime process serves: discovery (NodeType messages, schema hash) and config checks."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
from typing import Any, cast

from pydantic import ValidationError

from ._constants import JSON_SCHEMA_DIALECT
from ._describe import UNKNOWN_FIELD, Problem, problems
from ._failure import StepError
from ._node import NodeDefinition
from ._values import encode_json
from .gen.conductor.runtime.v1 import runtime_pb2 as pb


class Catalog:
    """The node types loaded from the modules named on the command line, by type name."""

    def __init__(self, definitions: dict[str, NodeDefinition]) -> None:
        self.definitions = definitions
        self._listing: pb.ListNodeTypesResponse | None = None
        self._hash: str | None = None

    def get(self, node_type: str) -> NodeDefinition | None:
        return self.definitions.get(node_type)

    def listing(self) -> pb.ListNodeTypesResponse:
        """Every node type with its JSON Schemas, in type-name order (built once)."""
        if self._listing is None:
            response = pb.ListNodeTypesResponse()
            for name in sorted(self.definitions):
                _describe_node(self.definitions[name], response.node_types.add())
            self._listing = response
        return self._listing

    def schema_hash(self) -> str:
        """SHA-256 of the deterministic encoding of the listing: changes whenever a node type changes."""
        if self._hash is None:
            self._hash = hashlib.sha256(self.listing().SerializeToString(deterministic=True)).hexdigest()
        return self._hash

    def validate_config(self, node_type: str, config: pb.Value) -> list[pb.Diagnostic]:
        """Checks one node's config against its node type; an empty list means it is valid."""
        definition = self.definitions.get(node_type)
        if definition is None:
            return [
                _error(f'unknown node type "{node_type}"; this runtime serves: {", ".join(sorted(self.definitions))}')
            ]
        adapter = definition.config_check_adapter
        kind = config.WhichOneof("kind")
        if adapter is None:
            return []
        if kind is None or (kind == "json" and not config.json):
            if definition.config_has_default:
                return []
            data = b"{}"
        elif kind == "json":
            data = config.json
        else:
            return [_error(f"the config must be JSON, found a {kind} value", expected="JSON", found=kind or "")]
        try:
            adapter.validate_json(data, strict=True)
        except ValidationError as error:
            return [_config_error(problem, adapter) for problem in problems(error)]
        return []


def _config_error(problem: Problem, adapter: Any) -> pb.Diagnostic:
    """A config problem as a diagnostic; an unknown key names the declared key it most likely meant."""
    if problem.expected != UNKNOWN_FIELD:
        return _error(
            f"{problem.path or 'config'}: expected {problem.expected}, found {problem.found}",
            path=problem.path,
            expected=problem.expected,
            found=problem.found,
        )
    *parents, key = problem.path.split(".")
    declared = _declared_keys(adapter.json_schema(), parents)
    close = difflib.get_close_matches(key, declared, n=1, cutoff=0.6)
    hint = (
        f'; did you mean "{close[0]}"?'
        if close
        else f"; expected one of {', '.join(declared)}"
        if declared
        else "; this node takes no config here"
    )
    return _error(
        f'config "{problem.path}": unknown field{hint}', path=problem.path, expected=", ".join(declared), found=key
    )


def _declared_keys(schema: dict[str, Any], path: list[str]) -> list[str]:
    """The property names the JSON Schema declares for the object at ``path`` (following $refs to $defs)."""
    definitions = schema.get("$defs", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = definitions.get(str(node["$ref"]).rsplit("/", 1)[-1], {})
        branches: list[Any] = node.get("anyOf", [])
        for branch in branches:  # Optional[Model]: the object branch
            if isinstance(branch, dict) and ("properties" in branch or "$ref" in branch):
                return resolve(cast("dict[str, Any]", branch))
        return node

    current = resolve(schema)
    for part in path:
        current = resolve(current.get("properties", {}).get(part, {}))
    return list(current.get("properties", {}))


def _error(message: str, path: str = "", expected: str = "", found: str = "") -> pb.Diagnostic:
    return pb.Diagnostic(
        severity=pb.Diagnostic.SEVERITY_ERROR, message=message, path=path, expected=expected, found=found
    )


def _describe_node(definition: NodeDefinition, into: pb.NodeType) -> None:
    into.type = definition.type
    into.version = definition.version
    into.title = definition.title
    into.description = definition.description
    config_schema: dict[str, Any] = (
        definition.config_check_adapter.json_schema()
        if definition.config_check_adapter is not None
        else {"type": "object"}
    )
    into.config_schema = _schema_text(config_schema)
    for port in definition.inputs:
        schema = port.codec.schema("validation")
        if not port.required and port.codec.kind in ("json", "any") and _shows_default(port.default, schema):
            with contextlib.suppress(StepError):  # a default that is not JSON data is simply not shown
                schema = {"default": json.loads(encode_json(port.default)), **schema}
        into.inputs.add(
            name=port.name,
            schema=_schema_text(schema),
            required=port.required,
            description=port.description,
            stream=bool(port.codec.stream),
        )
    for port in definition.outputs:
        into.outputs.add(
            name=port.name,
            schema=_schema_text(port.codec.schema("serialization")),
            required=port.required,
            description=port.description,
            stream=bool(port.codec.stream),
        )
    into.flags.idempotent = definition.idempotent
    into.flags.cancellable = definition.cancellable
    into.flags.streaming = definition.streaming
    into.flags.deterministic = definition.deterministic
    into.default_timeout_ms = definition.default_timeout_ms


def _shows_default(default: Any, schema: dict[str, Any]) -> bool:
    """Whether a port's default belongs in its schema: a ``None`` that stands for "not given" is left out when the
    schema itself refuses null (an ``int | None`` port described as an integer), because a default must fit."""
    if default is not None or not schema:
        return True
    branches: list[Any] = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    for branch in branches:
        kind: Any = cast("dict[str, Any]", branch).get("type") if isinstance(branch, dict) else None
        if kind == "null" or (isinstance(kind, list) and "null" in kind):
            return True
    return False


def _schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(
        {"$schema": JSON_SCHEMA_DIALECT, **schema}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
