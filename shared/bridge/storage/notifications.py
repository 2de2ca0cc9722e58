"""Notification records: one item per AMPECO delivery in the events table, the delivery's dedup mark.

Whatever a signed delivery holds, its item is writable: only the body is stored as sent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bridge.models.common import iso_instant
from bridge.models.notifications import (
    MAX_HEADER_LENGTH,
    MAX_KIND_LENGTH,
    MAX_REASON_LENGTH,
    RETENTION,
    NotificationRecord,
    NotificationStatus,
)

NOTIFICATION_PREFIX = "NOTIF#"
QUARANTINED = "QUARANTINED"


def notification_put(table: str, record: NotificationRecord, retention: timedelta = RETENTION) -> dict[str, Any]:
    """A conditional put of the record: it fails when the same bytes were delivered before."""
    item = notification_item(record, retention)
    return {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}


def notification_item(record: NotificationRecord, retention: timedelta = RETENTION) -> dict[str, Any]:
    """The stored item of a notification record (kept `retention`, 30 days unless configured longer)."""
    item: dict[str, Any] = {
        "pk": {"S": NOTIFICATION_PREFIX + record.fingerprint},
        "sk": {"N": "0"},
        "kind": {"S": "notification"},
        "notification": {"S": _bounded(record.notification, MAX_KIND_LENGTH)},
        "status": {"S": record.status.value},
        "receivedAt": {"S": iso_instant(record.received_at)},
        "body": {"S": record.body},
        "bodyEncoding": {"S": record.body_encoding},
        "expiresAt": {"N": str(record.expires_at(retention))},
    }
    optional = {
        "reason": _bounded(record.reason, MAX_REASON_LENGTH),
        "signedAt": _bounded(record.signed_at, MAX_HEADER_LENGTH),
        "tenant": _bounded(record.tenant, MAX_HEADER_LENGTH),
    }
    item.update({name: {"S": value} for name, value in optional.items() if value})
    if record.status is NotificationStatus.QUARANTINED:
        item["quarantined"] = {"S": QUARANTINED}  # the sparse byQuarantine index: what an operator must look at
    return item


def _bounded(text: str | None, limit: int) -> str:
    # Only the body may be large (256 KiB, 342 KiB as base64): the item stays under DynamoDB's 400 KB, and
    # writable (a lone surrogate has no UTF-8 form).
    return (text or "")[:limit].encode("utf-8", errors="replace").decode("utf-8")
