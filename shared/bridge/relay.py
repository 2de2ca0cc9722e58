"""Stream relay: stored items become SNS messages. Pure mapping; publishing is injected."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bridge.models.common import iso_ms
from bridge.models.messages import Attribute, OutboundMessage
from bridge.models.security_events import Channel, SecurityEvent

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
        occurred_at=iso_ms(event.occurred_at),
        data={
            "id": event.id if event.listed else None,
            "chargePoint": event.charge_point,
            "type": event.type,
            "techInfo": event.tech_info,
            "timestamp": iso_ms(event.occurred_at),
            "critical": event.critical,
            "channel": event.channel.value,
        },
        attributes={
            "type": Attribute(event.type),
            "chargePoint": Attribute(str(event.charge_point), "Number"),
            "critical": Attribute("true" if event.critical else "false"),
        },
    )


def relay_image(image: Mapping[str, Any], publish: Publish) -> bool:
    """Publish the message an inserted item stands for; False when the item is not for subscribers.

    Unlisted (non-critical) events are relayed too: only the AMPECO listing leaves them out.
    """
    if image.get("kind") != "securityEvent":
        return False
    publish(security_event_message(security_event_from_image(image)))
    return True
