"""moto at the cost of what a call touches: two of its operations that cost as much as everything stored.

- TransactWriteItems. Before a transaction moto saves `copy.deepcopy(table)` of every table it names, and swaps
  that copy in when the transaction is cancelled: every item and every stream record ever written, copied under
  the one moto lock, on every transaction (6.7 s at 22,000 items). The snapshot here holds what a rollback needs:
  deep copies of the items the transaction names (moto replaces an item on a put or delete and changes one in
  place only on an update, and only named items are written), the other items shared, and the stream's record
  list copied by reference (a record never changes once appended). A cancelled transaction still swaps the
  snapshot in, as moto does; only the cost changes.
- SendMessage (also each SNS delivery to an SQS subscriber). moto builds every queue attribute, counting every
  message three times, to read ContentBasedDeduplication; the local run's subscriber queues are never drained,
  so each publish grew slower than the last. During a send the queue answers that one attribute only.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from typing import Any

_named = threading.local()  # {table name: [(hash, range)]} while a transaction runs in this thread
_sending = threading.local()  # .queue: the queue a SendMessage is writing to in this thread
_installed = False


def install() -> None:
    """Patch moto once; idempotent."""
    global _installed
    if _installed:
        return
    _install_transaction_snapshot()
    _install_send_without_counting()
    _installed = True


# ---------------------------------------------------------------------- TransactWriteItems
def _install_transaction_snapshot() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _named.keys = named_keys(self.tables, transact_items)
        try:
            original(self, transact_items)
        finally:
            _named.keys = None

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.__deepcopy__ = _table_deepcopy  # type: ignore[attr-defined]


def named_keys(tables: dict[str, Any], transact_items: list[dict[str, Any]]) -> dict[str, list[tuple[Any, Any]]] | None:
    """The key of every item a transaction writes or checks, by table; None when one cannot be read."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    keys: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    try:
        for entry in transact_items:
            ((operation, request),) = entry.items()
            table = tables[request["TableName"]]
            key = request["Item"] if operation == "Put" else request["Key"]
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            keys[table.name].append((hash_value, range_value))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # moto will refuse the request; a full copy is as good as any then
    return keys


def _table_deepcopy(table: Any, memo: dict[int, Any]) -> Any:
    keys = getattr(_named, "keys", None)
    if keys is None or table.name not in keys:
        return _full_copy(table, memo)
    return rollback_snapshot(table, keys[table.name], memo)


def _full_copy(table: Any, memo: dict[int, Any]) -> Any:
    """What copy.deepcopy does for a plain object: a new instance with every attribute deep-copied."""
    cls: Any = type(table)
    clone = cls.__new__(cls)
    memo[id(table)] = clone
    clone.__dict__.update(copy.deepcopy(table.__dict__, memo))
    return clone


def rollback_snapshot(table: Any, keys: list[tuple[Any, Any]], memo: dict[int, Any]) -> Any:
    """A table object that a rollback can swap in: the named items copied, the rest shared."""
    clone = copy.copy(table)
    memo[id(table)] = clone
    # A dict copy keeps the stored hashes (DynamoType hashes slowly); the inner dicts of the named keys only,
    # since a write of a key touches nothing else.
    clone.items = copy.copy(table.items)
    for hash_value, range_value in keys:
        entry = clone.items.get(hash_value)
        if isinstance(entry, dict):
            entry = clone.items[hash_value] = entry.copy()
            if range_value in entry:
                entry[range_value] = copy.deepcopy(entry[range_value])
        elif entry is not None:
            clone.items[hash_value] = copy.deepcopy(entry)
    shard = table.stream_shard
    if shard is not None:
        clone.stream_shard = copy.copy(shard)
        clone.stream_shard.items = list(shard.items)
        clone.stream_shard.table = clone
    return clone


# ---------------------------------------------------------------------- SendMessage
def _install_send_without_counting() -> None:
    from moto.sqs.models import Queue, SQSBackend

    all_attributes: Any = vars(Queue)["attributes"]  # the property itself, to call its getter
    original = SQSBackend.send_message

    def send_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        _sending.queue = self.get_queue(queue_name)
        try:
            return original(self, queue_name, *args, **kwargs)
        finally:
            _sending.queue = None

    def attributes(queue: Any) -> dict[str, Any]:
        if getattr(_sending, "queue", None) is queue:
            return send_attributes(queue)
        return all_attributes.fget(queue)  # type: ignore[no-any-return]

    SQSBackend.send_message = send_message  # type: ignore[method-assign]
    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]


def send_attributes(queue: Any) -> dict[str, Any]:
    """The one attribute moto's send path reads, as moto's own `attributes` writes it."""
    if not queue.fifo_queue:
        return {}
    value = queue.content_based_deduplication
    return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}
