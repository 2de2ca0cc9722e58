"""Notification records: one item per AMPECO delivery in the events table, the delivery's dedup mark."""

from __future__ import annotations

from typing import Any

from bridge.models.common import iso_instant
from bridge.models.notifications import NotificationRecord

NOTIFICATION_PREFIX = "NOTIF#"


def notification_put(table: str, record: NotificationRecord) -> dict[str, Any]:
    """A conditional put of the record: it fails when the same bytes were delivered before."""
    return {"TableName": table, "Item": notification_item(record), "ConditionExpression": "attribute_not_exists(pk)"}


def notification_item(record: NotificationRecord) -> dict[str, Any]:
    """The stored item of a notification record (kept 30 days)."""
    item: dict[str, Any] = {
        "pk": {"S": NOTIFICATION_PREFIX + record.fingerprint},
        "sk": {"N": "0"},
        "kind": {"S": "notification"},
        "notification": {"S": record.notification},
        "status": {"S": record.status.value},
        "receivedAt": {"S": iso_instant(record.received_at)},
        "body": {"S": record.body},
        "bodyEncoding": {"S": record.body_encoding},
        "expiresAt": {"N": str(record.expires_at)},
    }
    optional = {"reason": record.reason, "signedAt": record.signed_at, "tenant": record.tenant}
    item.update({name: {"S": value} for name, value in optional.items() if value})
    return item
