"""The sessions table, its listing indexes, and the listing table that answers combinations of filters.

Every listing is one Query sorted by `startedKey` = startedAt (UTC, microseconds) + "#" + zero-padded id, so
"newest first, then id descending" is the index order and a started-at window is a key range; every filter
is part of the key, so a page reads what it returns plus one look-ahead item:

- no equality filter, or one: a GSI of the sessions table (byStarted, byChargePoint, byEvse, byStatus, byIdTag);
- two or more: a GSI of the listing table, one per combination (11), keyed by the values of exactly the
  filters it combines, in a fixed order (`1187|2301|active`).

Why a second table: DynamoDB and CloudFormation add one GSI per table per update, and 11 were needed. Why a
copy rather than index items of our own: each session has one listing item (the copy), and DynamoDB moves its
entries between combinations when a keyed attribute changes, so nothing has to be deleted by hand.

The copy is written in the session's own transaction (the delivery's record, the session conditional on its
version, the copy): all three or none. A function that fails after that transaction leaves a complete index
(a retried delivery is a duplicate, and has nothing to repair), and no stale copy can land after a newer one
(the version condition orders the transactions; there is no second write to race). The price: the copy's
write is doubled by the transaction (2 WCU for a copy up to 1 KB) against 1 for a write after it, which would
need a repair path for the fault between the two writes and a version condition against late writers; a
stream-driven copier would also cost 1, but needs a function of its own and lags the webhook's answer.
Sessions stored before the listing table existed are copied once by `copy_to_listing`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bridge.models.common import iso_instant
from bridge.models.notifications import RETENTION, NotificationRecord
from bridge.models.security_events import InsertConflict
from bridge.models.sessions import Session
from bridge.sessions import VersionConflict, document_json
from bridge.storage.dynamo import (
    Table,
    TransactionCancelled,
    error_code,
    query_items,
    storage_errors,
    transact_write,
)
from bridge.storage.notifications import notification_put

ALL_SESSIONS = "SESSIONS"
MAX_INDEXED_ID_TAG = 255  # filter[idTag]'s own limit
MAX_CANDIDATES = 50  # sessions read when matching an ambiguous start: more than one already means no match
# One filter: (index of the sessions table, partition attribute, attribute type). Without a listing table
# (the operator CLI on an older stack) the first present filter picks the index and a FilterExpression the rest.
INDEXES = {
    "idTag": ("byIdTag", "idTag", "S"),
    "evseId": ("byEvse", "evseId", "N"),
    "chargePointId": ("byChargePoint", "chargePointId", "N"),
    "status": ("byStatus", "sessionStatus", "S"),
}
# The equality filters, in the order their values make up a combination's key.
EQUALITY_FILTERS = ("chargePointId", "evseId", "status", "idTag")
_NAMED = {
    "chargePointId": ("ChargePoint", "c"),
    "evseId": ("Evse", "e"),
    "status": ("Status", "s"),
    "idTag": ("IdTag", "t"),
}
_NUMBERS = {"chargePointId", "evseId"}


def _combinations() -> dict[tuple[str, ...], tuple[str, str]]:
    found = {}
    for size in range(2, len(EQUALITY_FILTERS) + 1):
        for names in itertools.combinations(EQUALITY_FILTERS, size):
            index = "by" + "".join(_NAMED[name][0] for name in names)
            attribute = "k" + "".join(_NAMED[name][1] for name in names)  # short: every copy carries all 11
            found[names] = (index, attribute)
    return found


# Two or more equality filters -> (listing table index, its partition attribute), e.g.
# ("chargePointId", "status") -> ("byChargePointStatus", "kcs"). template.yaml declares the same 11.
COMBINATIONS = _combinations()
LISTING_PROJECTION = (
    "version",
    "document",
    "startedAt",
    "chargePointId",
    "evseId",
    "sessionStatus",
    "orderedAt",
    "idTag",
)  # what session_from_item reads; the keys (sessionId, startedKey, the combination's) come with every entry


@dataclass(frozen=True)
class SessionQuery:
    """One listing page's conditions."""

    filters: dict[str, str | int]  # chargePointId, evseId, status, idTag
    lowest_key: str = "0"  # below any ISO time (an empty string is not a valid key value)
    highest_key: str = "~"
    after: tuple[str, str] | None = None  # (session id, startedKey) of the previous page's last item


@dataclass(frozen=True)
class _AccessPath:
    """Where a listing's Query goes: table, index, the partition, and filters left for a FilterExpression."""

    table: str
    index: str
    attribute: str
    partition: dict[str, str]
    narrowing: tuple[str, ...] = ()  # only without a listing table


class SessionTable(Table):
    """Reads and writes of the sessions table, its listing copy, and the notification record beside each write.

    `listing_table` is the table of copies that answers combinations of filters: the webhooks and the
    reconciler write it, the listing reads it. Without one, nothing is copied and a combination of filters
    is one index narrowed by a FilterExpression (the operator CLI against a stack from before it).
    """

    def __init__(
        self,
        table_name: str,
        notifications_table: str,
        client: Any = None,
        notification_retention: timedelta = RETENTION,
        listing_table: str | None = None,
    ) -> None:
        super().__init__(table_name, client)
        self._notifications = notifications_table
        self._notification_retention = notification_retention
        self._listing = listing_table

    def get(self, session_id: str) -> Session | None:
        """A session by id."""
        with storage_errors():
            item = self.client.get_item(TableName=self._table, Key={"sessionId": {"S": session_id}}).get("Item")
        return session_from_item(item) if item else None

    def save(self, session: Session | None, expected_version: int | None, record: NotificationRecord) -> None:
        """The delivery's record, the session and its listing copy in one transaction: all or nothing."""
        from botocore.exceptions import ClientError

        record_put = notification_put(self._notifications, record, self._notification_retention)
        with storage_errors():
            if session is None:
                try:
                    self.client.put_item(**record_put)
                except ClientError as exc:
                    if error_code(exc) == "ConditionalCheckFailedException":
                        raise InsertConflict(duplicate=True) from exc
                    raise
                return
            session_put: dict[str, Any] = {"TableName": self._table, "Item": session_item(session)}
            if expected_version is None:
                session_put["ConditionExpression"] = "attribute_not_exists(sessionId)"
            else:
                session_put["ConditionExpression"] = "version = :v"
                session_put["ExpressionAttributeValues"] = {":v": {"N": str(expected_version)}}
            items: list[dict[str, Any]] = [{"Put": record_put}, {"Put": session_put}]
            if self._listing:
                # Unconditional: the session's version condition already orders every write of this copy.
                items.append({"Put": {"TableName": self._listing, "Item": listing_item(session)}})
            try:
                transact_write(self.client, items)
            except TransactionCancelled as exc:
                failed = exc.failed_conditions()
                if 0 in failed:
                    raise InsertConflict(duplicate=True) from exc
                raise VersionConflict(session.id) from exc

    def query(self, query: SessionQuery, per_page: int) -> tuple[list[Session], tuple[str, str] | None]:
        """Up to `per_page` sessions newest first, and the keys to continue after (None on the last page)."""
        path = self._access_path(query.filters)
        names = {"#p": path.attribute, "#k": "startedKey"}
        values: dict[str, Any] = {
            ":p": path.partition,
            ":lo": {"S": query.lowest_key},
            ":hi": {"S": query.highest_key},
        }
        for name in path.narrowing:
            _, attribute, kind = INDEXES[name]
            names[f"#{name}"] = attribute
            values[f":{name}"] = {kind: str(query.filters[name])}
        request: dict[str, Any] = {
            "TableName": path.table,
            "IndexName": path.index,
            "KeyConditionExpression": "#p = :p AND #k BETWEEN :lo AND :hi",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if path.narrowing:
            request["FilterExpression"] = " AND ".join(f"#{name} = :{name}" for name in path.narrowing)
        found: list[dict[str, Any]] = []
        start = None
        if query.after:
            session_id, key = query.after
            start = {"sessionId": {"S": session_id}, "startedKey": {"S": key}, path.attribute: path.partition}
        wanted = per_page + 1  # one past the page tells whether another page exists
        with storage_errors():
            while len(found) < wanted:
                if start:
                    request["ExclusiveStartKey"] = start
                page = self.client.query(**request, Limit=wanted - len(found))
                found += page.get("Items", [])
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
        items = found[:per_page]
        last = items[-1] if items else None
        resume = (last["sessionId"]["S"], last["startedKey"]["S"]) if last and len(found) > per_page else None
        return [session_from_item(item) for item in items], resume

    def _access_path(self, filters: dict[str, str | int]) -> _AccessPath:
        named = tuple(name for name in EQUALITY_FILTERS if name in filters)
        if len(named) >= 2 and self._listing:
            index, attribute = COMBINATIONS[named]
            return _AccessPath(self._listing, index, attribute, {"S": combination_key(named, filters)})
        first = next((name for name in INDEXES if name in filters), None)
        if first is None:
            return _AccessPath(self._table, "byStarted", "listKey", {"S": ALL_SESSIONS})
        index, attribute, kind = INDEXES[first]
        narrowing = tuple(name for name in INDEXES if name in filters and name != first)
        return _AccessPath(self._table, index, attribute, {kind: str(filters[first])}, narrowing)

    def started_between(
        self, since: datetime, until: datetime, *, charge_point: int | None = None, evse: int | None = None
    ) -> list[Session]:
        """Sessions on a charge point or an EVSE that started in [since, until]: one Query on its index."""
        attribute, value = ("chargePointId", charge_point) if charge_point is not None else ("evseId", evse)
        if value is None:
            raise ValueError("a charge point or an EVSE is needed")
        index = INDEXES[attribute][0]
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#p = :p AND startedKey BETWEEN :lo AND :hi",
            "ExpressionAttributeNames": {"#p": attribute},
            "ExpressionAttributeValues": {
                ":p": {"N": str(value)},
                ":lo": {"S": iso_instant(since)},
                ":hi": {"S": iso_instant(until) + "~"},  # every id of the last instant
            },
        }
        return [session_from_item(item) for item in query_items(self.client, request, MAX_CANDIDATES)]

    def copy_to_listing(self, limit: int = 100, after: str | None = None) -> tuple[int, str | None]:
        """Backfill the listing table from the sessions table, `limit` sessions per call (a Scan page): a copy
        never replaces a newer one. Returns the copies written and the session id to continue after (None: done)."""
        from botocore.exceptions import ClientError

        if not self._listing:
            raise ValueError("no listing table to copy into")
        request: dict[str, Any] = {"TableName": self._table, "Limit": limit}
        if after:
            request["ExclusiveStartKey"] = {"sessionId": {"S": after}}
        copied = 0
        with storage_errors():
            page = self.client.scan(**request)
            for stored in page.get("Items", []):
                session = session_from_item(stored)
                try:
                    self.client.put_item(
                        TableName=self._listing,
                        Item=listing_item(session),
                        ConditionExpression="attribute_not_exists(sessionId) OR version < :v",
                        ExpressionAttributeValues={":v": {"N": str(session.version)}},
                    )
                except ClientError as exc:
                    if error_code(exc) != "ConditionalCheckFailedException":
                        raise
                    continue  # the session's own transaction wrote this version, or a newer one, already
                copied += 1
        resume = page.get("LastEvaluatedKey")
        return copied, resume["sessionId"]["S"] if resume else None


# ---------------------------------------------------------------------- item mapping
def started_key(started_at: datetime, session_id: str) -> str:
    """Newest first, then id descending: the time to the microsecond, then the id padded so numbers sort as numbers."""
    return f"{iso_instant(started_at)}#{session_id.zfill(20)}"


def combination_key(names: tuple[str, ...], values: dict[str, str | int]) -> str:
    """A combination's partition key: its filters' values in EQUALITY_FILTERS order, `|` between them.

    Numbers are written canonically (a filter's `0100` is 100); `\\` and `|` in an idTag are escaped, so two
    different value sets never make the same key.
    """
    parts = []
    for name in names:
        value = values[name]
        text = str(int(value)) if name in _NUMBERS else str(value)
        parts.append(text.replace("\\", "\\\\").replace("|", "\\|"))
    return "|".join(parts)


def session_item(session: Session) -> dict[str, Any]:
    """The stored item of a session."""
    item: dict[str, Any] = {
        "sessionId": {"S": session.id},
        "kind": {"S": "session"},
        "version": {"N": str(session.version)},
        "document": {"S": document_json(session.document)},
        "listKey": {"S": ALL_SESSIONS},
        "startedKey": {"S": started_key(session.started_at, session.id)},
        "startedAt": {"S": iso_instant(session.started_at)},
        "chargePointId": {"N": str(session.charge_point)},
        "evseId": {"N": str(session.evse)},
        "sessionStatus": {"S": session.status},
        "orderedAt": {"S": iso_instant(session.ordered_at)},
    }
    # An index key is at most 2048 bytes, and `filter[idTag]` takes at most 255 characters: a longer idTag
    # stays in the document, unindexed, instead of failing the write on every redelivery.
    if session.id_tag and len(session.id_tag) <= MAX_INDEXED_ID_TAG:
        item["idTag"] = {"S": session.id_tag}
    return item


def listing_item(session: Session) -> dict[str, Any]:
    """The listing table's copy of a session: what a listing serves, and a key for every combination of two or
    more filters it has values for (none with idTag when it has no indexed idTag: those indexes are sparse)."""
    stored = session_item(session)
    item = {name: value for name, value in stored.items() if name not in ("kind", "listKey")}
    values: dict[str, str | int] = {
        "chargePointId": session.charge_point,
        "evseId": session.evse,
        "status": session.status,
    }
    if "idTag" in stored:
        values["idTag"] = stored["idTag"]["S"]
    for names, (_, attribute) in COMBINATIONS.items():
        if all(name in values for name in names):
            item[attribute] = {"S": combination_key(names, values)}
    return item


def session_from_item(item: dict[str, Any]) -> Session:
    """A session from its item (or from its listing copy's index entry)."""
    # Items from before orderedAt existed kept lastUpdatedAt when they had one; startedAt is a lower bound.
    ordered = item.get("orderedAt") or item.get("lastUpdatedAt") or item["startedAt"]
    return Session(
        id=item["sessionId"]["S"],
        document=json.loads(item["document"]["S"]),
        charge_point=int(item["chargePointId"]["N"]),
        evse=int(item["evseId"]["N"]),
        status=item["sessionStatus"]["S"],
        started_at=datetime.fromisoformat(item["startedAt"]["S"]),
        id_tag=item.get("idTag", {}).get("S"),
        ordered_at=datetime.fromisoformat(ordered["S"]),
        version=int(item["version"]["N"]),
    )
