"""What one handler invocation did to AWS, seen through local.intercept: calls, capacity units, publishes.

Write units come from the items themselves: moto's copy of each named item before the write and after it, sized
and billed by `bench_units` (the larger of before and after, doubled in a transaction, plus each index's write).
Read units come from the items a read returned. Calls made outside a handler (the bench's own, the stream pump's
polling) are not a function's and are left out.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from local.aws import ACCOUNT_ID, MOTO_LOCK, REGION
from local.bench_units import TableShape, read_units, write_cost
from local.intercept import Call, Observer

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
Named = tuple[str, dict[str, Any], dict[str, Any] | None]  # table, key, the item a put writes (None otherwise)


@dataclass
class Tally:
    """One invocation's (or several's) AWS work."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # service, operation, params
    operations: Counter[str] = field(default_factory=Counter)  # service.operation
    write_units: float = 0.0
    read_units: float = 0.0
    items_read: int = 0  # ScannedCount of Queries and Scans, items of GetItem / BatchGetItem
    publishes: int = 0

    @property
    def aws_calls(self) -> int:
        return len(self.calls)


class Probe(Observer):
    """Tallies the calls of the functions named (every function when None) into `tally`; `reset()` starts anew."""

    def __init__(self, shapes: Mapping[str, TableShape], functions: set[str] | None = None) -> None:
        self._shapes = shapes
        self._functions = functions
        self.tally = Tally()
        self._before: dict[int, list[tuple[Named, dict[str, Any] | None]]] = {}

    def reset(self) -> Tally:
        done, self.tally = self.tally, Tally()
        return done

    def _mine(self, call: Call) -> bool:
        return call.function is not None and (self._functions is None or call.function in self._functions)

    def before(self, call: Call) -> None:
        if not self._mine(call):
            return
        self.tally.calls.append((call.service, call.operation, copy.deepcopy(dict(call.params))))
        self.tally.operations[f"{call.service}.{call.operation}"] += 1
        if call.service == "dynamodb" and call.operation in WRITES:
            named = named_items(call.operation, call.params)
            self._before[id(call)] = [(n, stored_item(n[0], n[1] or n[2] or {})) for n in named]

    def after(self, call: Call, http_status: int, parsed: dict[str, Any]) -> None:
        if not self._mine(call):
            return
        if call.service == "sns":
            if http_status < 300:
                self.tally.publishes += len(call.params.get("PublishBatchRequestEntries", [])) or 1
            return
        if call.service != "dynamodb":
            return
        before = self._before.pop(id(call), None)
        if before is not None:
            transactional = call.operation == "TransactWriteItems"
            for (table, key, put), old in before:
                new = stored_item(table, key or put or {}) if http_status < 300 else old
                shape = self._shapes.get(table, TableShape(tuple(key)))
                if http_status >= 300:  # a refused write still costs its base-table units
                    new = old if old is not None else put
                    shape = TableShape(shape.keys)
                self.tally.write_units += write_cost(shape, old, new, transactional=transactional).units
            return
        if http_status < 300:
            self._reads(call, parsed)

    def _reads(self, call: Call, parsed: dict[str, Any]) -> None:
        params = call.params
        consistent = bool(params.get("ConsistentRead"))
        if call.operation == "GetItem":
            item = parsed.get("Item")
            self.tally.items_read += 1 if item else 0
            self.tally.read_units += read_units([item] if item else [], consistent=consistent)
        elif call.operation in {"Query", "Scan"}:
            items = parsed.get("Items", [])
            scanned = int(parsed.get("ScannedCount", len(items)))
            self.tally.items_read += scanned
            self.tally.read_units += read_units(items, consistent=consistent, scanned=scanned)
        elif call.operation in {"BatchGetItem", "TransactGetItems"}:
            if call.operation == "BatchGetItem":
                found = [i for items in parsed.get("Responses", {}).values() for i in items]
            else:
                found = [r["Item"] for r in parsed.get("Responses", []) if r.get("Item")]
            self.tally.items_read += len(found)
            transactional = call.operation == "TransactGetItems"
            self.tally.read_units += sum(read_units([i], transactional=transactional) for i in found)


def named_items(operation: str, params: Mapping[str, Any]) -> list[Named]:
    """Every (table, key, item put) a write names; keys of puts are filled in from the item by `stored_item`."""
    if operation == "PutItem":
        return [(params["TableName"], {}, dict(params["Item"]))]
    if operation in {"UpdateItem", "DeleteItem"}:
        return [(params["TableName"], dict(params["Key"]), None)]
    named: list[Named] = []
    if operation == "BatchWriteItem":
        for table, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    named.append((table, {}, dict(request["PutRequest"]["Item"])))
                else:
                    named.append((table, dict(request["DeleteRequest"]["Key"]), None))
        return named
    for entry in params.get("TransactItems", []):
        ((kind, request),) = entry.items()
        if kind == "Put":
            named.append((request["TableName"], {}, dict(request["Item"])))
        else:  # Update, Delete, ConditionCheck (billed as a transactional write of the item)
            named.append((request["TableName"], dict(request["Key"]), None))
    return named


def stored_item(table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """moto's copy of an item (DynamoDB JSON), read directly: no call, nothing counted. `key` may be a whole item."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    with MOTO_LOCK:
        table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(table_name)
        if table.hash_key_attr not in key:
            return None
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        found = table.get_item(hash_key, range_key)
        return dict(found.to_json()["Attributes"]) if found is not None else None
