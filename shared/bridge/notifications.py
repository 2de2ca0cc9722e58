"""AMPECO notifications: every signed delivery is recorded once; each kind goes to its service.

Nothing here refuses a signed delivery: AMPECO gives up after a few retries, so a body we cannot use
is kept, quarantined, for an operator.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.errors import MalformedJson
from bridge.models.notifications import MAX_KIND_LENGTH, Delivery, NotificationStatus
from bridge.models.sessions import SESSION_NOTIFICATIONS
from bridge.observability import logger
from bridge.resolution import Resolver
from bridge.security_events import SecurityEventStore, ingest_security_notification, record_only
from bridge.sessions import SessionChange, SessionStore, apply_notification, session_from_notification
from bridge.validation import parse_json

SECURITY_EVENT = "SecurityEventNotification"


@dataclass(frozen=True)
class NotificationOutcome:
    """What a delivery did."""

    new: bool  # False: the same bytes were delivered before
    notification: str
    status: NotificationStatus
    security_events: int = 0
    session_changed: bool = False


def classify(body: bytes) -> tuple[str | None, str | None]:
    """The notification's kind, or why there is none (the body is then kept as `unknown`)."""
    try:
        document = parse_json(body)
    except MalformedJson as exc:
        return None, f"body is not JSON ({exc.message})"
    kind = document.get("notification") if isinstance(document, dict) else None
    if not isinstance(kind, str):
        return None, "no notification field"
    if not 0 < len(kind) <= MAX_KIND_LENGTH or not kind.isprintable():
        return None, "the notification field is not a notification type name"
    return kind, None


def ingest(
    delivery: Delivery, events: SecurityEventStore, sessions: SessionStore, resolver: Resolver | None = None
) -> NotificationOutcome:
    """Record the delivery and act on it, at most once per body; a new session may resolve an ambiguous start."""
    kind, problem = classify(delivery.body)
    if kind is None:
        ingested = record_only(events, delivery.record("unknown", NotificationStatus.QUARANTINED, problem))
        return NotificationOutcome(ingested.new, "unknown", NotificationStatus.QUARANTINED)
    if kind == SECURITY_EVENT:
        ingested = ingest_security_notification(events, delivery, delivery.record(kind, NotificationStatus.PROCESSED))
        status = NotificationStatus.PROCESSED if ingested.events else NotificationStatus.QUARANTINED
        return NotificationOutcome(ingested.new, kind, status, security_events=len(ingested.events))
    if kind in SESSION_NOTIFICATIONS:
        notification, problem = session_from_notification(delivery.body, kind)
        if notification is None:
            ingested = record_only(events, delivery.record(kind, NotificationStatus.QUARANTINED, problem))
            return NotificationOutcome(ingested.new, kind, NotificationStatus.QUARANTINED)
        change = apply_notification(sessions, notification, delivery.record(kind, NotificationStatus.PROCESSED))
        if resolver is not None:
            resolve_new_session(resolver, change)
        return NotificationOutcome(
            change.new_delivery, kind, NotificationStatus.PROCESSED, session_changed=change.applied
        )
    ingested = record_only(events, delivery.record(kind, NotificationStatus.UNHANDLED))
    return NotificationOutcome(ingested.new, kind, NotificationStatus.UNHANDLED)


def resolve_new_session(resolver: Resolver, change: SessionChange) -> None:
    """A session seen for the first time may be the one an ambiguous start caused.

    Best effort: the delivery is stored already, and a failure here must not make AMPECO redeliver it (a
    repeat would be deduplicated and resolve nothing). The reconciler's pass over ambiguous starts retries.
    """
    if not (change.created and change.stored):
        return
    try:
        resolver.for_session(change.stored)
    except Exception:
        logger.exception(
            "resolving a start for a new session failed; the reconciler retries",
            extra={"session_id": change.session_id},
        )
