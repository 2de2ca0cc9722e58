"""The webhook endpoints' work: authenticate the raw body, then hand it to the push or notification service."""

from __future__ import annotations

from typing import Any

from bridge import notifications
from bridge.errors import Unauthenticated
from bridge.models.notifications import Delivery, NotificationStatus
from bridge.notifications import NotificationOutcome
from bridge.security_events import Ingested, ingest_push, parse_charge_point
from bridge.signatures import body_fingerprint, verify_ampeco_signature, verify_standard_webhook
from bridge.wiring import WebhookDependencies


def receive_push(deps: WebhookDependencies, charge_point: str, body: bytes, headers: dict[str, str]) -> Ingested:
    """A direct push: signature first (so an unsigned, malformed body is a 401), then validation."""
    settings = deps.settings
    webhook_id = verify_standard_webhook(
        body,
        headers,
        deps.secret(settings.webhook_secret_arn).split(),
        tolerance_seconds=settings.webhook_tolerance_seconds,
        now=deps.clock(),
    )
    return ingest_push(deps.events, parse_charge_point(charge_point), webhook_id, body)


def push_answer(result: Ingested) -> dict[str, Any]:
    """What the pusher is told: the ids its events have (the same on a repeat)."""
    return {
        "message": "Accepted." if result.new else "Already received.",
        "ids": [e.id for e in result.events],
    }


def receive_notification(deps: WebhookDependencies, body: bytes, headers: dict[str, str]) -> NotificationOutcome:
    """An AMPECO notification: HMAC of the raw body with the API token, and the tenant when pinned."""
    settings = deps.settings
    verify_ampeco_signature(body, headers.get("x-signature"), deps.secret(settings.ampeco_api_token_arn))
    tenant = headers.get("x-tenant")
    if settings.ampeco_tenant and tenant != settings.ampeco_tenant:
        raise Unauthenticated("Unknown tenant.")
    delivery = Delivery(
        body=body,
        fingerprint=body_fingerprint(body),
        received_at=deps.clock(),
        signed_at=headers.get("x-timestamp"),
        tenant=tenant,
    )
    return notifications.ingest(delivery, deps.events, deps.sessions)


def notification_metrics(outcome: NotificationOutcome) -> list[str]:
    """Counters for a delivery; quarantine has its own alarm."""
    if not outcome.new:
        return ["DuplicateDeliveries"]
    names = ["NotificationsReceived"]
    if outcome.status is NotificationStatus.QUARANTINED:
        names.append("QuarantinedNotifications")
    names.extend("SecurityEventsStored" for _ in range(outcome.security_events))
    if outcome.session_changed:
        names.append("SessionsUpdated")
    return names
