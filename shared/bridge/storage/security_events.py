"""The security-events table: events, notification records, and the queries the listing needs.

Layout (one table, one stream):
- listed event     pk "SE",  sk id; GSIs byChargePoint (cpKey), byType (typeKey),
                   byChargePointType (cpTypeKey), each sorted by sk. The base key itself serves the
                   unfiltered listing and the read by id, so every filter combination is one Query.
- unlisted event   pk "SEU", sk id; no index keys (AMPECO lists only the seven critical types).
- notification     pk "NOTIF#<sha256 of body>", sk 0, expires after its retention (30 days by default).
An event's put is conditional on its own key, which is derived from its dedup key: the dedup check and
the data are one write.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge import event_ids
from bridge.models.common import iso_instant
from bridge.models.notifications import RETENTION, NotificationRecord
from bridge.models.security_events import Channel, EventQuery, InsertConflict, SecurityEvent
from bridge.storage.dynamo import Table, TransactionCancelled, error_code, query_items, storage_errors, transact_write
from bridge.storage.notifications import NOTIFICATION_PREFIX, QUARANTINED, notification_item, notification_put

LISTED = "SE"
UNLISTED = "SEU"
INDEX_PAGE_ATTRIBUTES = ("sk", "chargePoint", "eventType", "techInfo", "occurredAt")


class SecurityEventTable(Table):
    """Reads and writes of the security-events table."""

    def __init__(self, table_name: str, client: Any = None, notification_retention: timedelta = RETENTION) -> None:
        super().__init__(table_name, client)
        self._notification_retention = notification_retention

    # ------------------------------------------------------------------ writes
    def insert(self, events: Sequence[SecurityEvent], notification: NotificationRecord | None = None) -> None:
        """Store a delivery in one call; raises InsertConflict when a key is already taken."""
        puts = [self._event_put(event) for event in events]
        if notification is not None:
            puts.insert(0, self._notification_put(notification))
        with storage_errors():
            if len(puts) == 1:
                self._put_one(puts[0], events)
            else:
                self._put_all(puts, has_notification=notification is not None)

    def _put_one(self, put: dict[str, Any], events: Sequence[SecurityEvent]) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.put_item(**put)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            if not events:
                raise InsertConflict(duplicate=True) from exc
            raise InsertConflict(duplicate=False, taken={0: _dedup_key_of(exc.response.get("Item"))}) from exc

    def _put_all(self, puts: list[dict[str, Any]], has_notification: bool) -> None:
        try:
            transact_write(self.client, [{"Put": p} for p in puts])
        except TransactionCancelled as exc:
            failed = exc.failed_conditions()
            offset = 1 if has_notification else 0
            if has_notification and 0 in failed:
                raise InsertConflict(duplicate=True) from exc
            taken = {i - offset: _dedup_key_of(r.get("Item")) for i, r in failed.items()}
            raise InsertConflict(duplicate=False, taken=taken) from exc

    def _event_put(self, event: SecurityEvent) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Item": event_item(event),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _notification_put(self, record: NotificationRecord) -> dict[str, Any]:
        return notification_put(self._table, record, self._notification_retention)

    # ------------------------------------------------------------------ reads
    def get(self, event_id: int) -> SecurityEvent | None:
        """A listed event by id."""
        with storage_errors():
            item = self.client.get_item(
                TableName=self._table, Key={"pk": {"S": LISTED}, "sk": {"N": str(event_id)}}
            ).get("Item")
        return event_from_item(item) if item else None

    def query(self, query: EventQuery, limit: int) -> list[SecurityEvent]:
        """Newest first, at most `limit`: one Query on the key or index made for the filters."""
        index, partition_attr, partition = _access_path(query)
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#p = :p AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeNames": {"#p": partition_attr},
            "ExpressionAttributeValues": {
                ":p": {"S": partition},
                ":lo": {"N": str(query.lowest_id)},
                ":hi": {"N": str(query.highest_id)},
            },
            "ScanIndexForward": False,
        }
        if index:
            request["IndexName"] = index
        items = query_items(self.client, request, limit)
        return [event_from_item(item) for item in items]

    def in_window(
        self, since: datetime, until: datetime, charge_point: int | None, event_type: str | None, limit: int
    ) -> list[SecurityEvent]:
        """Stored events that occurred in [since, until], newest first, whole (for a replay).

        Without filters, listed and unlisted events; a charge point or type narrows it to listed events, found
        through their index and then read whole (the indexes hold only the listing's attributes).
        """
        lowest = event_ids.lowest_id(max(0, event_ids.epoch_ms(since)))
        highest = event_ids.highest_id(min(event_ids.MAX_EPOCH_MS, event_ids.epoch_ms(until)))
        if charge_point is None and event_type is None:
            items = self._partition(LISTED, lowest, highest, limit) + self._partition(UNLISTED, lowest, highest, limit)
            events = sorted((event_from_item(i) for i in items), key=lambda e: e.id, reverse=True)
        else:
            keys = self.query(EventQuery(event_type, charge_point, lowest, highest), limit)
            events = self._whole([e.id for e in keys])
        return [e for e in events if since <= e.occurred_at <= until][:limit]

    def _partition(self, partition: str, lowest: int, highest: int, limit: int) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":p": {"S": partition},
                ":lo": {"N": str(lowest)},
                ":hi": {"N": str(highest)},
            },
            "ScanIndexForward": False,
        }
        return query_items(self.client, request, limit)

    def _whole(self, ids: list[int]) -> list[SecurityEvent]:
        """Listed events by id, whole, in the order given (BatchGetItem takes 100 keys a call)."""
        found: dict[int, SecurityEvent] = {}
        with storage_errors():
            for start in range(0, len(ids), 100):
                keys = [{"pk": {"S": LISTED}, "sk": {"N": str(i)}} for i in ids[start : start + 100]]
                request: dict[str, Any] = {self._table: {"Keys": keys}}
                while request:
                    answer = self.client.batch_get_item(RequestItems=request)
                    for item in answer.get("Responses", {}).get(self._table, []):
                        event = event_from_item(item)
                        found[event.id] = event
                    request = answer.get("UnprocessedKeys") or {}
        return [found[i] for i in ids if i in found]

    def quarantined(self, since: datetime, until: datetime, limit: int) -> list[dict[str, Any]]:
        """Quarantined notification records received in [since, until], newest first: one Query on the sparse
        `byQuarantine` index (which holds the record's kind, time and reason, not its body)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byQuarantine",
            "KeyConditionExpression": "quarantined = :q AND receivedAt BETWEEN :since AND :until",
            "ExpressionAttributeValues": {
                ":q": {"S": QUARANTINED},
                ":since": {"S": iso_instant(since)},
                ":until": {"S": iso_instant(until)},
            },
            "ScanIndexForward": False,
        }
        records = []
        for item in query_items(self.client, request, limit):
            record = plain(item)
            record["fingerprint"] = str(record.pop("pk")).removeprefix(NOTIFICATION_PREFIX)
            record.pop("sk", None)
            record.pop("quarantined", None)
            records.append(record)
        return records

    def notification(self, fingerprint: str) -> dict[str, Any] | None:
        """A notification record as stored (operators and tests)."""
        with storage_errors():
            item = self.client.get_item(
                TableName=self._table, Key={"pk": {"S": NOTIFICATION_PREFIX + fingerprint}, "sk": {"N": "0"}}
            ).get("Item")
        return plain(item) if item else None


def _access_path(query: EventQuery) -> tuple[str | None, str, str]:
    if query.charge_point is not None and query.type is not None:
        return "byChargePointType", "cpTypeKey", f"CP#{query.charge_point}#T#{query.type}"
    if query.charge_point is not None:
        return "byChargePoint", "cpKey", f"CP#{query.charge_point}"
    if query.type is not None:
        return "byType", "typeKey", f"T#{query.type}"
    return None, "pk", LISTED


def _dedup_key_of(item: dict[str, Any] | None) -> str:
    return str(item["dedupKey"]["S"]) if item and "dedupKey" in item else ""


# ---------------------------------------------------------------------- item mapping
def event_item(event: SecurityEvent) -> dict[str, Any]:
    """The stored item of an event."""
    item: dict[str, Any] = {
        "pk": {"S": LISTED if event.listed else UNLISTED},
        "sk": {"N": str(event.id)},
        "kind": {"S": "securityEvent"},
        "eventId": {"S": event.event_id},
        "chargePoint": {"N": str(event.charge_point)},
        "eventType": {"S": event.type},
        "techInfo": {"S": event.tech_info},
        "occurredAt": {"S": iso_instant(event.occurred_at)},
        "critical": {"BOOL": event.critical},
        "channel": {"S": event.channel.value},
        "dedupKey": {"S": event.dedup_key},
        "receivedAt": {"S": iso_instant(datetime.now(UTC))},
    }
    if event.delivery is not None:
        item.update(delivery_attributes(event.delivery))
    if event.listed:
        item["cpKey"] = {"S": f"CP#{event.charge_point}"}
        item["typeKey"] = {"S": f"T#{event.type}"}
        item["cpTypeKey"] = {"S": f"CP#{event.charge_point}#T#{event.type}"}
    return item


def delivery_attributes(record: NotificationRecord) -> dict[str, Any]:
    """The AMPECO delivery on its event's item, as its own record would hold it (not in any index)."""
    record_item = notification_item(record)
    kept = ("receivedAt", "signedAt", "tenant", "body", "bodyEncoding")
    attributes = {f"delivery{name[0].upper()}{name[1:]}": record_item[name] for name in kept if name in record_item}
    attributes["deliveryFingerprint"] = {"S": record.fingerprint}
    return attributes


def event_from_item(item: dict[str, Any]) -> SecurityEvent:
    """An event from a table or index item (index items carry only the listing's attributes)."""
    return SecurityEvent(
        id=int(item["sk"]["N"]),
        event_id=item.get("eventId", {}).get("S", ""),
        charge_point=int(item["chargePoint"]["N"]),
        type=item["eventType"]["S"],
        tech_info=item.get("techInfo", {}).get("S", ""),
        occurred_at=datetime.fromisoformat(item["occurredAt"]["S"]),
        critical=item.get("critical", {}).get("BOOL", True),
        channel=Channel(item.get("channel", {}).get("S", Channel.PUSH.value)),
        dedup_key=item.get("dedupKey", {}).get("S", ""),
    )


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain values (for inspection, not for the hot path)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {key: deserializer.deserialize(value) for key, value in item.items()}
