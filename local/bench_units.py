"""DynamoDB capacity as it is billed, from items: pure functions, no AWS.

- Item size: attribute names plus values (DynamoDB's rules: UTF-8 strings, numbers by significant digits).
- Write request units: 1 per KB (rounded up) of the larger of the item before and after a write, on the base
  table; 2 when the write is part of a transaction. Each global secondary index the item is in costs its own
  write of the projected entry's size: a put when the item enters the index, a delete when it leaves, a delete
  and a put when its index key changes, one write when a projected attribute changes, nothing otherwise
  (index writes are not doubled by a transaction).
- Read request units: 1 per 4 KB (rounded up) read, half for an eventually consistent read, twice in a
  transaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Item = Mapping[str, Any]  # attribute name -> DynamoDB JSON value ({"S": "..."})
KB = 1024
READ_UNIT_BYTES = 4 * KB


def attribute_size(name: str, value: Mapping[str, Any]) -> int:
    """One attribute: the name's UTF-8 bytes plus the value's."""
    return len(name.encode()) + value_size(value)


def value_size(value: Mapping[str, Any]) -> int:
    """A DynamoDB JSON value's billed size."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind in {"SS", "NS", "BS"}:
        return sum(value_size({kind[0]: v}) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + attribute_size(k, v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item) -> int:
    """The item's billed size in bytes."""
    return sum(attribute_size(name, value) for name, value in item.items())


def kilobytes(size: int, unit: int = KB) -> int:
    """Units of `unit` bytes, rounded up; an empty or missing item still costs one."""
    return max(1, math.ceil(size / unit))


@dataclass(frozen=True)
class Index:
    """A global secondary index as the template declares it."""

    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    non_key: tuple[str, ...] = ()

    def entry(self, item: Item | None, base_keys: Sequence[str]) -> dict[str, Any] | None:
        """The item's entry in this index; None when the item lacks a key attribute (a sparse index)."""
        if item is None or not all(key in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        kept = {*base_keys, *self.keys, *(self.non_key if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in kept}


@dataclass(frozen=True)
class TableShape:
    """A table's key attributes and indexes."""

    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()


def table_shapes(resources: Mapping[str, Any]) -> dict[str, TableShape]:
    """Every DynamoDB table of a template's resources, by logical id."""
    shapes = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        indexes = tuple(
            Index(
                gsi["IndexName"],
                tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                gsi["Projection"]["ProjectionType"],
                tuple(gsi["Projection"].get("NonKeyAttributes", [])),
            )
            for gsi in props.get("GlobalSecondaryIndexes", [])
        )
        shapes[name] = TableShape(tuple(k["AttributeName"] for k in props["KeySchema"]), indexes)
    return shapes


@dataclass(frozen=True)
class WriteCost:
    """One item write: base-table units and each index's."""

    base: int
    indexes: dict[str, int]

    @property
    def units(self) -> int:
        return self.base + sum(self.indexes.values())


def write_cost(shape: TableShape, before: Item | None, after: Item | None, *, transactional: bool) -> WriteCost:
    """What one item write (put, update or delete) costs, from the item before and after it."""
    sizes = [item_size(i) for i in (before, after) if i is not None]
    base = kilobytes(max(sizes, default=0)) * (2 if transactional else 1)
    indexes = {}
    for index in shape.indexes:
        units = index_write_units(index, shape.keys, before, after)
        if units:
            indexes[index.name] = units
    return WriteCost(base, indexes)


def index_write_units(index: Index, base_keys: Sequence[str], before: Item | None, after: Item | None) -> int:
    """Units one index is charged for an item's write."""
    old, new = index.entry(before, base_keys), index.entry(after, base_keys)
    if old is None and new is None:
        return 0
    if old is None or new is None:
        entering_or_leaving = new if old is None else old
        return kilobytes(item_size(entering_or_leaving or {}))
    if any(old.get(key) != new.get(key) for key in index.keys):
        return kilobytes(item_size(old)) + kilobytes(item_size(new))  # a delete and a put
    return kilobytes(item_size(new)) if old != new else 0


def read_units(
    items: Iterable[Item], *, consistent: bool = False, transactional: bool = False, scanned: int = 0
) -> float:
    """Units of one read call (GetItem, Query...): its items' total size by 4 KB, halved when eventually
    consistent; a Query whose filter dropped items read `scanned` of them, so the total is scaled to that."""
    listed = list(items)
    size = sum(item_size(i) for i in listed)
    if scanned > len(listed) > 0:
        size = math.ceil(size * scanned / len(listed))
    units = float(kilobytes(size, READ_UNIT_BYTES))
    if transactional:
        return units * 2
    return units if consistent else units / 2
