"""Outbound SNS messages: the `{schemaVersion, eventType, eventId, occurredAt, data}` envelope and attributes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# The envelope's version: subscribers can tell a body they were built for from a later one. Raised only for a
# change that breaks them (a field removed or retyped); new fields in `data` keep it.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Attribute:
    """One SNS message attribute; `Number` for ids so filter policies can compare numerically."""

    value: str
    data_type: str = "String"


@dataclass(frozen=True)
class OutboundMessage:
    """A message for one of the bridge's topics."""

    topic: str  # "security-events" or "start-results"
    event_type: str
    event_id: str
    occurred_at: str
    data: dict[str, Any]
    attributes: dict[str, Attribute] = field(default_factory=dict)

    def body(self) -> str:
        """The JSON envelope subscribers parse."""
        envelope = {
            "schemaVersion": SCHEMA_VERSION,
            "eventType": self.event_type,
            "eventId": self.event_id,
            "occurredAt": self.occurred_at,
            "data": self.data,
        }
        return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_envelope(cls, topic: str, body: str, attributes: dict[str, Attribute]) -> OutboundMessage:
        """A message as it was published (its JSON envelope and routing attributes), to publish again."""
        envelope = json.loads(body)
        return cls(
            topic=topic,
            event_type=envelope["eventType"],
            event_id=envelope["eventId"],
            occurred_at=envelope["occurredAt"],
            data=envelope["data"],
            attributes={k: v for k, v in attributes.items() if k not in ("eventType", "eventId")},
        )

    def all_attributes(self) -> dict[str, Attribute]:
        """Routing attributes plus the envelope's own eventType and eventId."""
        return {
            "eventType": Attribute(self.event_type),
            "eventId": Attribute(self.event_id),
            **self.attributes,
        }
