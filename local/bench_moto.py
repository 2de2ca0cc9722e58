"""moto's Query at 100,000 items, fast enough for the bench: the same answers, without re-sorting the table per call.

moto answers every Query by sorting every item of the table, filtering the partition out of it and sorting that
again: seconds per call at 100k items, and the listing bench makes hundreds. Here a Query sees only its partition
(found once per table version), already in the order moto's own sort gives, so moto's loop, key conditions,
Limit, ExclusiveStartKey, ScannedCount, FilterExpression and projection run unchanged on it; item sizes are
remembered until the next write. Any write to any table starts a new version. Installed by the bench only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_state = threading.local()  # .key: the partition the Query in this thread is about; .partition: its items
_partitions: dict[tuple[Any, ...], list[Any]] = {}
_sorted: dict[tuple[Any, ...], list[Any]] = {}
_version = [0]
_installed = [False]


def install() -> None:
    """Patch moto once; idempotent."""
    if _installed[0]:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table

    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "create_table", "delete_table"):
        setattr(DynamoDBBackend, name, _bumping(getattr(DynamoDBBackend, name)))
    original_query = Table.query
    original_all_items = Table.all_items
    original_sorted_items = Table.sorted_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions") or []
        key = (_version[0], id(self), index_name, _describe(hash_key), *((*_describe(v), n) for n, v in conditions))
        partition = _partitions.get(key)
        if partition is None:
            partition = _partitions[key] = _partition(self, hash_key, index_name, conditions)
        _state.key, _state.partition = key, partition
        if index_name is not None:
            kwargs["hash_key_conditions"] = []  # every item of the partition meets them: moto need not check again
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _state.key = _state.partition = None

    def all_items(self: Any) -> list[Any]:
        if getattr(_state, "key", None) is None:
            return original_all_items(self)
        return list(_state.partition)

    def sorted_items(self: Any, hash_attrs: list[str], range_attrs: list[str | None], items: list[Any]) -> list[Any]:
        key = getattr(_state, "key", None)
        if key is None:
            return original_sorted_items(self, hash_attrs, range_attrs, items)
        cached = _sorted.get(key)
        if cached is None or len(cached) != len(items):
            attrs = self._generate_attr_to_sort_by(hash_attrs, range_attrs)
            # moto's own key compares DynamoTypes, which compare their cast values: the same order, sooner.
            cached = _sorted[key] = sorted(items, key=lambda x: tuple(x.attrs[a].cast_value for a in attrs))
        return list(cached)  # the caller reverses it in place

    original_size = Item.size

    def size(self: Any) -> int:
        # moto sizes every item a Query passes over, inside the key range or not; items change only in a write.
        memo = self.__dict__.get("_bench_size")
        if memo is None or memo[0] != _version[0]:
            memo = self.__dict__["_bench_size"] = (_version[0], original_size(self))
        return int(memo[1])

    Item.size = size  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.sorted_items = sorted_items  # type: ignore[method-assign,assignment]
    _installed[0] = True


def _bumping(method: Any) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        _new_version()
        try:
            return method(self, *args, **kwargs)
        finally:
            _new_version()  # an update changes items in place: what was cached before it is stale

    return wrapper


def _new_version() -> None:
    _version[0] += 1
    _partitions.clear()
    _sorted.clear()


def _describe(value: Any) -> tuple[Any, ...]:
    return () if value is None else (value.type, str(value.value))


def _partition(table: Any, hash_key: Any, index_name: str | None, conditions: list[tuple[str, Any]]) -> list[Any]:
    """The items a Query can return, in moto's order for a base-table Query (an index Query sorts them itself)."""
    if index_name is None:
        if hash_key is None:
            return list(_every_item(table))
        found = table.items.get(hash_key)
        if found is None:
            return []
        if not table.range_key_attr:
            return [found]
        return sorted(found.values(), key=lambda item: item.range_key)
    return [item for item in _every_item(table) if all(_equals(item.attrs.get(n), v) for n, v in conditions)]


def _equals(found: Any, wanted: Any) -> bool:
    return found is not None and bool(found == wanted)


def _every_item(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


@contextmanager
def bulk_loading() -> Iterator[None]:
    """Seeding: moto re-sizes the whole item as each attribute is set (quadratic in attributes); seeded items
    are far below DynamoDB's 400 KB, so that check is skipped while the seed is written."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    checked = LimitedSizeDict.__setitem__
    LimitedSizeDict.__setitem__ = dict.__setitem__  # type: ignore[method-assign]
    try:
        yield
    finally:
        LimitedSizeDict.__setitem__ = checked  # type: ignore[method-assign]
