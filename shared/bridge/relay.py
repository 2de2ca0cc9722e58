"""Stream relay: stored changes become SNS messages, each once, or kept for redrive. Publishing is injected."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from bridge.error_codes import UPSTREAM_UNKNOWN
from bridge.models.common import iso_instant
from bridge.models.messages import Attribute, OutboundMessage
from bridge.models.security_events import Channel, SecurityEvent
from bridge.models.starts import Attempt, Outcome, StartPath
from bridge.observability import logger
from bridge.storage.attempts import attempt_from_plain
from bridge.storage.undelivered import Undelivered

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
            "source": event.channel.source,
        },
        attributes={
            "type": Attribute(attribute_text(event.type)),
            "chargePoint": Attribute(str(event.charge_point), "Number"),
            "critical": Attribute("true" if event.critical else "false"),
        },
    )


def attribute_text(value: str) -> str:
    """A value SNS takes as a String attribute: characters XML 1.0 cannot carry become U+FFFD (the body keeps
    the raw value), and an empty value, which SNS refuses, becomes one."""
    safe = "".join(c if _sns_safe(c) else "\ufffd" for c in value)
    return safe or "\ufffd"


def _sns_safe(char: str) -> bool:
    code = ord(char)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def start_result_message(attempt: Attempt) -> OutboundMessage:
    """`session.start.result`, routable on outcome, errorCode and where the start was asked for.

    A correction (revision 2 on) has its own eventId, names the message it corrects in `data.corrects`,
    and carries the attribute `correction = true`.
    """
    target = attempt.target
    attributes = {"outcome": Attribute(str(attempt.outcome))}
    if attempt.outcome is not Outcome.STARTED:
        attributes["errorCode"] = Attribute(attempt.error_code or UPSTREAM_UNKNOWN)
    if target.path is StartPath.CHARGE_POINT:
        attributes["chargePoint"] = Attribute(str(target.charge_point), "Number")
        attributes["evseNetworkId"] = Attribute(str(target.evse_network_id), "Number")
    else:
        attributes["evseId"] = Attribute(str(target.evse_id), "Number")
    if attempt.corrects:
        attributes["correction"] = Attribute("true")
    completed = iso_instant(attempt.completed_at or attempt.created_at)
    return OutboundMessage(
        topic="start-results",
        event_type="session.start.result",
        event_id=attempt.event_id,
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
            **attempt.request_fields(),
            "tenantStatus": attempt.tenant_status,
            **tenant_body_fields(attempt.tenant_body),
            "truncated": attempt.tenant_body_truncated,
            "requestedAt": iso_instant(attempt.created_at),
            "completedAt": completed,
            "durationMs": attempt.duration_ms,
            "corrects": attempt.corrects,
        },
        attributes=attributes,
    )


def tenant_body_fields(text: str | None) -> dict[str, Any]:
    """The tenant's answer as JSON (`tenantBody`); when it is not JSON (an HTML error page, a body cut at
    8 KiB) the text is in `tenantBodyText` instead, so subscribers never parse JSON inside a string."""
    if text is None:
        return {"tenantBody": None, "tenantBodyText": None}
    try:
        return {"tenantBody": json.loads(text), "tenantBodyText": None}
    except ValueError:
        return {"tenantBody": None, "tenantBodyText": text}


def message_for(image: Mapping[str, Any], old_image: Mapping[str, Any] | None = None) -> OutboundMessage | None:
    """The message a stored change stands for; None when the change is not for subscribers.

    Unlisted (non-critical) security events are relayed too: only the AMPECO listing leaves them out.
    An attempt is relayed once per revision: its change from pending to final, then each correction.
    """
    kind = image.get("kind")
    if kind == "securityEvent":
        return security_event_message(security_event_from_image(image))
    if kind == "startAttempt" and image.get("status") == "final":
        old = old_image or {}
        first = old.get("status") == "pending"
        corrected = old.get("status") == "final" and int(image.get("revision") or 0) > int(old.get("revision") or 0)
        if first or corrected:
            return start_result_message(attempt_from_plain(dict(image)))
    return None


class RelayOutcome(Enum):
    """What the relay did with one stored change."""

    SKIPPED = "skipped"  # not for subscribers
    PUBLISHED = "published"
    GIVEN_UP = "given_up"  # kept for redrive


class UndeliveredStore(Protocol):
    """Where messages the relay gives up on are kept for an operator's redrive."""

    def record(self, entry: Undelivered) -> None: ...

    def remove(self, event_id: str) -> None: ...


@dataclass(frozen=True)
class StoredChange:
    """One stream record: the item after (and before) the change, when it was written, and where."""

    new_image: Mapping[str, Any]
    old_image: Mapping[str, Any] | None
    written_at: datetime
    source: str  # table and key, for the operator


def relay_change(
    change: StoredChange,
    publish: Publish,
    undelivered: UndeliveredStore,
    now: datetime,
    give_up_after: timedelta,
) -> RelayOutcome:
    """Publish the change's message. A failure is retried (the caller reports it to Lambda) until the
    change is `give_up_after` old; then the message is kept for redrive, so nothing is lost or sent twice."""
    message = message_for(change.new_image, change.old_image)
    if message is None:
        return RelayOutcome.SKIPPED
    old = now - change.written_at >= give_up_after
    try:
        publish(message)
    except Exception as exc:
        if not old:
            raise
        reason = _reason(exc)
    else:
        if old:
            _forget_kept_copy(undelivered, message.event_id)
        return RelayOutcome.PUBLISHED
    undelivered.record(Undelivered(message, change.source, reason, now))
    logger.error(
        "relay gave up on a message; kept for redrive",
        extra={"event_id": message.event_id, "topic": message.topic, "source": change.source, "reason": reason},
    )
    return RelayOutcome.GIVEN_UP


def _forget_kept_copy(undelivered: UndeliveredStore, event_id: str) -> None:
    """A retry published a message old enough to have been kept before (its keeping lost only its answer)."""
    try:
        undelivered.remove(event_id)
    except Exception:
        # Published already: a redrive may send it once more, with the same eventId subscribers drop.
        logger.warning("a kept copy of a published message could not be removed", extra={"event_id": event_id})


def _reason(exc: Exception) -> str:
    # The AWS error code or the exception's class: never its text, which may quote a request.
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        return str(response["Error"]["Code"])
    return type(exc).__name__
