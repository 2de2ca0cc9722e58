"""The webhook endpoints' work: authenticate the raw body, then hand it to the push or notification service."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from bridge import notifications, push_secrets
from bridge.errors import NotConfigured, Unauthenticated
from bridge.models.notifications import Delivery, NotificationStatus
from bridge.notifications import NotificationOutcome
from bridge.security_events import Ingested, ingest_push, parse_charge_point
from bridge.signatures import body_fingerprint, verify_ampeco_signature, verify_standard_webhook
from bridge.wiring import WebhookDependencies


def receive_push(deps: WebhookDependencies, charge_point: str, body: bytes, headers: dict[str, str]) -> Ingested:
    """A direct push, signed with its charge point's own secret: checked before the body is parsed."""
    settings = deps.settings
    configured = deps.secret(settings.webhook_secret_arn)
    charge_point_id = parse_charge_point(charge_point)
    secrets = push_secrets.charge_point_secrets(configured, charge_point_id)
    verify = functools.partial(
        verify_standard_webhook, body, headers, tolerance_seconds=settings.webhook_tolerance_seconds, now=deps.clock()
    )
    try:
        webhook_id = verify(secrets)
    except Unauthenticated as refused:
        if refused.reason != "bad_signature":
            raise
        # Refused either way; the reason tells an operator a charger was given a master, not its own secret.
        if _verifies(verify, push_secrets.master_secrets(configured)):
            raise Unauthenticated("No matching webhook signature.", reason="master_signature") from refused
        raise
    return ingest_push(deps.events, charge_point_id, webhook_id, body)


def _verifies(verify: Callable[[list[str]], str], secrets: list[str]) -> bool:
    try:
        verify(secrets)
    except Unauthenticated:
        return False
    return True


def push_answer(result: Ingested) -> dict[str, Any]:
    """What the pusher is told: the ids its events have (the same on a repeat)."""
    return {
        "message": "Accepted." if result.new else "Already received.",
        "ids": [e.id for e in result.events],
    }


def receive_notification(deps: WebhookDependencies, body: bytes, headers: dict[str, str]) -> NotificationOutcome:
    """An AMPECO notification: HMAC of the raw body with the API token, and the tenant when pinned."""
    settings = deps.settings
    token = deps.secret(settings.ampeco_api_token_arn)
    if push_secrets.is_placeholder(token):
        raise NotConfigured("AmpecoApiToken", "the AMPECO tenant's API token")
    verify_ampeco_signature(body, headers.get("x-signature"), token)
    tenant = headers.get("x-tenant")
    if settings.ampeco_tenant and tenant != settings.ampeco_tenant:
        raise Unauthenticated("Unknown tenant.", reason="wrong_tenant")
    delivery = Delivery(
        body=body,
        fingerprint=body_fingerprint(body),
        received_at=deps.clock(),
        signed_at=headers.get("x-timestamp"),
        tenant=tenant,
    )
    return notifications.ingest(delivery, deps.events, deps.sessions, deps.resolver)


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
