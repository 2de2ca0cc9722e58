"""Stream relay: stored items become SNS messages. Pure mapping; publishing is injected."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bridge.models.common import iso_instant
from bridge.models.messages import Attribute, OutboundMessage
from bridge.models.security_events import Channel, SecurityEvent
from bridge.models.starts import Attempt, Outcome, StartPath
from bridge.storage.attempts import attempt_from_plain

Publish = Callable[[OutboundMessage], None]


def security_event_from_image(image: Mapping[str, Any]) -> SecurityEvent:
    """The event in a stream record's new image (numbers arrive as Decimal)."""
    return SecurityEvent(
        id=int(image["sk"]),
        event_id=str(image["eventId"]),
        charge_point=int(image["chargePoint"]),
        type=str(image["eventType"]),
        tech_info=str(image.get("techInfo", "")),
        occurred_at=datetime.fromisoformat(str(image["occurredAt"])),
        critical=bool(image["critical"]),
        channel=Channel(str(image["channel"])),
        dedup_key=str(image["dedupKey"]),
    )


def security_event_message(event: SecurityEvent) -> OutboundMessage:
    """`security.event`, routable on type, chargePoint and the sender's critical flag."""
    return OutboundMessage(
        topic="security-events",
        event_type="security.event",
        event_id=event.event_id,
        occurred_at=iso_instant(event.occurred_at),
        data={
            "id": event.id if event.listed else None,
            "chargePoint": event.charge_point,
            "type": event.type,
            "techInfo": event.tech_info,
            "timestamp": iso_instant(event.occurred_at),
            "critical": event.critical,
            "channel": event.channel.value,
        },
        attributes={
            "type": Attribute(event.type),
            "chargePoint": Attribute(str(event.charge_point), "Number"),
            "critical": Attribute("true" if event.critical else "false"),
        },
    )


def start_result_message(attempt: Attempt) -> OutboundMessage:
    """`session.start.result`, routable on outcome, errorCode and where the start was asked for."""
    target = attempt.target
    attributes = {"outcome": Attribute(str(attempt.outcome))}
    if attempt.outcome is not Outcome.STARTED:
        attributes["errorCode"] = Attribute(attempt.error_code or "UPSTREAM_UNKNOWN")
    if target.path is StartPath.CHARGE_POINT:
        attributes["chargePoint"] = Attribute(str(target.charge_point), "Number")
        attributes["evseNetworkId"] = Attribute(str(target.evse_network_id), "Number")
    else:
        attributes["evseId"] = Attribute(str(target.evse_id), "Number")
    completed = iso_instant(attempt.completed_at or attempt.created_at)
    return OutboundMessage(
        topic="start-results",
        event_type="session.start.result",
        event_id=attempt.attempt_id,
        occurred_at=completed,
        data={
            "attemptId": attempt.attempt_id,
            "outcome": str(attempt.outcome),
            "errorCode": None if attempt.outcome is Outcome.STARTED else attempt.error_code,
            "path": target.path.value,
            "chargePoint": target.charge_point,
            "evseNetworkId": target.evse_network_id,
            "evseId": target.evse_id,
            "sessionId": attempt.session_id,
            "authorizationId": attempt.authorization_id,
            "tenantStatus": attempt.tenant_status,
            "tenantBody": attempt.tenant_body,
            "truncated": attempt.tenant_body_truncated,
            "requestedAt": iso_instant(attempt.created_at),
            "completedAt": completed,
            "durationMs": attempt.duration_ms,
        },
        attributes=attributes,
    )


def relay_image(image: Mapping[str, Any], publish: Publish, old_image: Mapping[str, Any] | None = None) -> bool:
    """Publish the message a stream change stands for; False when the change is not for subscribers.

    Unlisted (non-critical) security events are relayed too: only the AMPECO listing leaves them out.
    A start attempt is relayed once, on its one change from pending to final.
    """
    kind = image.get("kind")
    if kind == "securityEvent":
        publish(security_event_message(security_event_from_image(image)))
        return True
    if kind == "startAttempt" and image.get("status") == "final" and (old_image or {}).get("status") == "pending":
        publish(start_result_message(attempt_from_plain(dict(image))))
        return True
    return False
