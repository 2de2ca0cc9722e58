"""Request bodies generated from the repo's strict contract schemas (hypothesis-jsonschema `from_schema`)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import hypothesis.strategies as st
from hypothesis_jsonschema import from_schema

from tests.contract.schemas import load
from tests.fuzz import jsonschema_compat

jsonschema_compat.install()

# Annotations, and keywords hypothesis-jsonschema does not read (2019+ `unevaluatedProperties`, AMPECO's
# `decimal` format): dropping them only widens what is generated, which a fuzzer wants anyway.
_IGNORED = frozenset(
    {"$schema", "$id", "$comment", "$defs", "title", "deprecated", "readOnly", "unevaluatedProperties"}
)


def generatable(name: str) -> dict[str, Any]:
    """Schema `name` with every `$ref` inlined (as `allOf`, the 2020-12 meaning of siblings)."""
    root = load(name)
    inlined: dict[str, Any] = _inline(root, root)
    return inlined


def _inline(node: Any, document: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, document) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    rest: dict[str, Any] = {}
    for key, value in node.items():
        if key in _IGNORED or key == "$ref" or (key == "format" and value == "decimal"):
            continue
        if key == "properties":
            rest[key] = {prop: _inline(schema, document) for prop, schema in value.items()}
        else:
            rest[key] = _inline(value, document)
    if ref is None:
        return rest
    target_document, pointer = _target(ref, document)
    target = _inline(_follow(target_document, pointer), target_document)
    return {"allOf": [target, rest]} if rest else target


def _target(ref: str, document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    file, _, pointer = ref.partition("#")
    return (load(file.removesuffix(".json")) if file else document), pointer


def _follow(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for part in pointer.strip("/").split("/"):
        if part:
            node = node[part]
    return node


@cache
def body_of(name: str) -> st.SearchStrategy[Any]:
    """Documents that schema `name` describes (mostly valid ones; see `_IGNORED`)."""
    return from_schema(generatable(name))


PUSH_EVENT_FIELDS = ("type", "timestamp", "techInfo")


recent_instants = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC))


@cache
def push_event() -> st.SearchStrategy[Any]:
    """One direct-push event: the listing item's `type`, `timestamp` and `techInfo`, closed as the push is.

    Most get a time in the range ids can hold (1970..2099); the schema's date-times span 0001..9999.
    """
    item = generatable("security_event")
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: item["properties"][name] for name in PUSH_EVENT_FIELDS},
        "required": ["type", "timestamp"],
        "additionalProperties": False,
    }
    return st.builds(
        lambda event, moment, in_range: {**event, "timestamp": moment.isoformat()} if in_range else event,
        from_schema(schema),
        recent_instants,
        st.sampled_from([True, True, True, True, True, False]),
    )
