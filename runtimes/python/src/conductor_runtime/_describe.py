"""Words for validation errors: what was expected and what was found, as the messages and diagnostics say them."""

from __future__ import annotations

import json
import re
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

#: What a problem expects when the value has a key its schema does not declare.
UNKNOWN_FIELD = _EXPECTED_BY_TYPE["extra_forbidden"]

_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}

_MAX_FOUND_CHARS = 80

# The tags pydantic gives union members in error locations: the core schema type, with parameters in brackets.
_UNION_TAGS = frozenset(
    {
        "int",
        "float",
        "str",
        "bool",
        "bytes",
        "none",
        "date",
        "datetime",
        "time",
        "timedelta",
        "decimal",
        "uuid",
        "url",
        "multi-host-url",
        "any",
        "list",
        "dict",
        "set",
        "frozenset",
        "tuple",
        "callable",
    }
)
_TAG_PATTERN = re.compile(r"^[a-z][a-z-]*\[")


class Problem(NamedTuple):
    """One validation error: a dotted path inside the checked value, and what was expected and found."""

    path: str
    expected: str
    found: str


def problems(error: ValidationError) -> list[Problem]:
    """Turns a pydantic ValidationError into problems with dotted paths (``headers.accept``, ``items.3``).

    A value that matches no member of a union (``int | float``) fails once per member, each under a location
    ending in the member's tag (``offset.int``, ``offset.float``); those become one problem at the value's own
    path whose expectation lists the members (``number``, ``integer or string``)."""
    merged: dict[str, Problem] = {}
    for detail in error.errors(include_url=False):
        parts = [part for part in detail["loc"] if not _is_union_tag(part)]
        path = ".".join(str(part) for part in parts)
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
        earlier = merged.get(path)
        if earlier is not None:
            expected = _either(earlier.expected, expected)
        merged[path] = Problem(path, expected, found)
    return list(merged.values())


def _is_union_tag(part: object) -> bool:
    """Whether a location part names a union member (``int``, ``list[int]``) rather than a field or an index."""
    return isinstance(part, str) and (part in _UNION_TAGS or _TAG_PATTERN.match(part) is not None)


def _either(first: str, second: str) -> str:
    options = [option for option in [*first.split(" or "), second] if option]
    unique = list(dict.fromkeys(options))
    if "number" in unique and "integer" in unique:
        unique.remove("integer")  # a number is what JSON Schema calls both
    return " or ".join(unique)


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
