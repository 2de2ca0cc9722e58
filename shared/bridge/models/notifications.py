"""AMPECO notifications as the bridge records them."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# AMPECO redeliveries are deduplicated this long: the default and the least a deployment may keep a record
# (NOTIFICATION_RETENTION_DAYS).
RETENTION = timedelta(days=30)
MAX_KIND_LENGTH = 100  # longer than any AMPECO notification type name; a longer one is not a type
MAX_REASON_LENGTH = 500  # why a delivery was quarantined, for an operator
MAX_HEADER_LENGTH = 256  # X-Timestamp and X-Tenant, kept as sent up to this


class NotificationStatus(StrEnum):
    """What became of a signed notification."""

    PROCESSED = "processed"
    QUARANTINED = "quarantined"  # signed, but not a body we can use: kept for an operator
    UNHANDLED = "unhandled"  # a type the bridge does not act on (yet)


@dataclass(frozen=True)
class NotificationRecord:
    """One AMPECO delivery, kept for its retention (30 days or more); its fingerprint is the dedup key."""

    fingerprint: str
    notification: str
    status: NotificationStatus
    received_at: datetime
    body: str
    reason: str | None = None
    signed_at: str | None = None  # X-Timestamp: recorded, not enforced (it is not signed)
    tenant: str | None = None
    body_encoding: str = "utf-8"  # "base64" for a body that is not UTF-8 (kept byte for byte)

    def expires_at(self, retention: timedelta = RETENTION) -> int:
        """Epoch seconds for the table's TTL: `retention` after the delivery arrived."""
        return int((self.received_at + retention).timestamp())


@dataclass(frozen=True)
class Delivery:
    """A signed AMPECO delivery, before we know what it holds."""

    body: bytes
    fingerprint: str
    received_at: datetime
    signed_at: str | None
    tenant: str | None

    def record(self, notification: str, status: NotificationStatus, reason: str | None = None) -> NotificationRecord:
        """The delivery's record."""
        try:
            body, encoding = self.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(self.body).decode("ascii"), "base64"
        return NotificationRecord(
            fingerprint=self.fingerprint,
            notification=notification,
            status=status,
            received_at=self.received_at,
            body=body,
            body_encoding=encoding,
            reason=reason,
            signed_at=self.signed_at,
            tenant=self.tenant,
        )
