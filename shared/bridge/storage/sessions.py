"""The sessions table and its listing indexes.

Each index serves one filter (all sessions, chargePointId, evseId, status, idTag) sorted by
`startedKey` = startedAt (UTC, microseconds) + "#" + zero-padded id, so "newest first, then id descending" is the
index order and a started-at window is a key range. Further filters narrow that Query.
"""

from __future__ import annotations

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
# filter name -> (index, partition attribute, attribute type); the first present filter picks the index.
INDEXES = {
    "idTag": ("byIdTag", "idTag", "S"),
    "evseId": ("byEvse", "evseId", "N"),
    "chargePointId": ("byChargePoint", "chargePointId", "N"),
    "status": ("byStatus", "sessionStatus", "S"),
}


@dataclass(frozen=True)
class SessionQuery:
    """One listing page's conditions."""

    filters: dict[str, str | int]  # chargePointId, evseId, status, idTag
    lowest_key: str = "0"  # below any ISO time (an empty string is not a valid key value)
    highest_key: str = "~"
    after: tuple[str, str] | None = None  # (session id, startedKey) of the previous page's last item


class SessionTable(Table):
    """Reads and writes of the sessions table (and the notification record beside each write)."""

    def __init__(
        self,
        table_name: str,
        notifications_table: str,
        client: Any = None,
        notification_retention: timedelta = RETENTION,
    ) -> None:
        super().__init__(table_name, client)
        self._notifications = notifications_table
        self._notification_retention = notification_retention

    def get(self, session_id: str) -> Session | None:
        """A session by id."""
        with storage_errors():
            item = self.client.get_item(TableName=self._table, Key={"sessionId": {"S": session_id}}).get("Item")
        return session_from_item(item) if item else None

    def save(self, session: Session | None, expected_version: int | None, record: NotificationRecord) -> None:
        """The delivery's record and the session in one transaction: both or neither."""
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
            try:
                transact_write(self.client, [{"Put": record_put}, {"Put": session_put}])
            except TransactionCancelled as exc:
                failed = exc.failed_conditions()
                if 0 in failed:
                    raise InsertConflict(duplicate=True) from exc
                raise VersionConflict(session.id) from exc

    def query(self, query: SessionQuery, per_page: int) -> tuple[list[Session], tuple[str, str] | None]:
        """Up to `per_page` sessions newest first, and the keys to continue after (None on the last page)."""
        index, attribute, partition = _access_path(query.filters)
        names = {"#p": attribute, "#k": "startedKey"}
        values: dict[str, Any] = {":p": partition, ":lo": {"S": query.lowest_key}, ":hi": {"S": query.highest_key}}
        narrowing = []
        for name, value in query.filters.items():
            _, attr, kind = INDEXES[name]
            if attr == attribute:
                continue
            names[f"#{name}"] = attr
            values[f":{name}"] = {kind: str(value)}
            narrowing.append(f"#{name} = :{name}")
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#p = :p AND #k BETWEEN :lo AND :hi",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if narrowing:
            request["FilterExpression"] = " AND ".join(narrowing)
        found: list[dict[str, Any]] = []
        start = None
        if query.after:
            session_id, key = query.after
            start = {"sessionId": {"S": session_id}, "startedKey": {"S": key}, attribute: partition}
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


def _access_path(filters: dict[str, str | int]) -> tuple[str, str, dict[str, str]]:
    for name, (index, attribute, kind) in INDEXES.items():
        if name in filters:
            return index, attribute, {kind: str(filters[name])}
    return "byStarted", "listKey", {"S": ALL_SESSIONS}


# ---------------------------------------------------------------------- item mapping
def started_key(started_at: datetime, session_id: str) -> str:
    """Newest first, then id descending: the time to the microsecond, then the id padded so numbers sort as numbers."""
    return f"{iso_instant(started_at)}#{session_id.zfill(20)}"


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


def session_from_item(item: dict[str, Any]) -> Session:
    """A session from its item."""
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
