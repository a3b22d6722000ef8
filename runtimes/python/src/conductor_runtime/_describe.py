"""Words for validation errors: what was expected and what was found, as the messages and diagnostics say them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import ValidationError

_EXPECTED_BY_TYPE = {
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "float_type": "number",
    "float_parsing": "number",
    "string_type": "string",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
    "typed_dict_type": "object",
    "dataclass_type": "object",
    "list_type": "array",
    "tuple_type": "array",
    "set_type": "array",
    "none_required": "null",
    "bytes_type": "bytes",
    "json_invalid": "valid JSON",
    "missing": "a value",
    "extra_forbidden": "no such field",
}

_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}

_MAX_FOUND_CHARS = 80


class Problem(NamedTuple):
    """One validation error: a dotted path inside the checked value, and what was expected and found."""

    path: str
    expected: str
    found: str


def problems(error: ValidationError) -> list[Problem]:
    """Turns a pydantic ValidationError into problems with dotted paths (``headers.accept``, ``items.3``)."""
    result: list[Problem] = []
    for detail in error.errors(include_url=False):
        path = ".".join(str(part) for part in detail["loc"])
        kind = detail["type"]
        context: Mapping[str, Any] = detail.get("ctx") or {}
        if kind in ("literal_error", "enum"):
            expected = f"one of {context.get('expected', '?')}"
        elif kind in _BOUNDS:
            bound = next(iter(context.values()), "?")
            expected = f"a number {_BOUNDS[kind]} {bound}"
        else:
            expected = _EXPECTED_BY_TYPE.get(kind) or detail["msg"][:1].lower() + detail["msg"][1:]
        found = "nothing" if kind == "missing" else describe(detail.get("input"))
        result.append(Problem(path, expected, found))
    return result


def describe(value: object) -> str:
    """Names a value's JSON type and shows it briefly: ``string "x"``, ``integer 5``, ``null``."""
    original = value
    if value is None:
        return "null"
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int):
        kind = "integer"
    elif isinstance(value, float):
        kind = "number"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, Mapping):
        kind = "object"
    elif isinstance(value, bytes | bytearray):
        return f"{len(value)} bytes"
    elif isinstance(value, Sequence):
        kind = "array"
    else:
        return type(value).__qualname__
    try:
        text = json.dumps(original, ensure_ascii=False, default=repr)
    except ValueError:
        text = repr(original)
    if len(text) > _MAX_FOUND_CHARS:
        text = text[: _MAX_FOUND_CHARS - 3] + "..."
    return f"{kind} {text}"
