"""The part of Lambda's event-filter syntax that stream sources use, applied to records as Lambda sends them."""

from __future__ import annotations

import json
from typing import Any

_MISSING = object()


def record_matches(patterns: list[str] | list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """True when any pattern matches (no patterns: everything passes), as Lambda's FilterCriteria."""
    if not patterns:
        return True
    parsed = [json.loads(p) if isinstance(p, str) else p for p in patterns]
    return any(_match_object(pattern, record) for pattern in parsed)


def _match_object(pattern: dict[str, Any], value: Any) -> bool:
    fields = value if isinstance(value, dict) else {}
    for key, condition in pattern.items():
        actual = fields.get(key, _MISSING)
        if isinstance(condition, dict):
            # A missing parent still lets `{"exists": false}` below it match.
            if not _match_object(condition, {} if actual is _MISSING else actual):
                return False
        elif isinstance(condition, list):
            if not _match_leaf(condition, actual):
                return False
        else:
            raise ValueError(f"filter value for {key!r} must be a list or an object")
    return True


def _match_leaf(conditions: list[Any], actual: Any) -> bool:
    # Conditions apply to leaves only: at an object there is no leaf, as if the field were absent.
    if actual is _MISSING or isinstance(actual, dict):
        return any(isinstance(c, dict) and c.get("exists") is False for c in conditions)
    # A JSON array in the record matches when any element does.
    values = actual if isinstance(actual, list) else [actual]
    return any(_match_one(c, v) for c in conditions for v in values)


def _match_one(condition: Any, value: Any) -> bool:
    if not isinstance(condition, dict):
        return _equal(condition, value)
    if len(condition) != 1:
        raise ValueError(f"one operator per filter condition: {condition}")
    ((operator, operand),) = condition.items()
    if operator == "exists":
        return bool(operand)
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(_text(operand))
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(_text(operand))
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.casefold() == str(operand).casefold()
    if operator == "anything-but":
        return not _anything_but_hit(operand, value)
    if operator == "numeric":
        return _numeric(operand, value)
    raise ValueError(f"unsupported filter operator {operator!r}")


def _text(operand: Any) -> str:
    if isinstance(operand, dict) and "equals-ignore-case" not in operand:
        raise ValueError(f"unsupported nested operator {operand}")
    return str(operand)


def _anything_but_hit(operand: Any, value: Any) -> bool:
    if isinstance(operand, dict):
        return _match_one(operand, value)
    excluded = operand if isinstance(operand, list) else [operand]
    return any(_equal(item, value) for item in excluded)


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return expected is value
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return float(expected) == float(value)
    return bool(type(expected) is type(value) and expected == value)


def _numeric(operand: list[Any], value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    checks = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    pairs = zip(operand[::2], operand[1::2], strict=True)
    return all(checks[op](float(value), float(bound)) for op, bound in pairs)
