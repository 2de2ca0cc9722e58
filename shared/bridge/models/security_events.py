"""Security events: the direct-push payload, AMPECO's notification, and the domain event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from bridge.models.common import IsoInstant
from bridge.models.notifications import NotificationRecord


class CriticalSecurityEventType(StrEnum):
    """The seven OCPP security events marked critical: the only ones AMPECO's resource lists."""

    FIRMWARE_UPDATED = "FirmwareUpdated"
    SETTING_SYSTEM_TIME = "SettingSystemTime"
    STARTUP_OF_THE_DEVICE = "StartupOfTheDevice"
    RESET_OR_REBOOT = "ResetOrReboot"
    SECURITY_LOG_WAS_CLEARED = "SecurityLogWasCleared"
    MEMORY_EXHAUSTION = "MemoryExhaustion"
    TAMPER_DETECTION_ACTIVATED = "TamperDetectionActivated"


CRITICAL_TYPES = frozenset(t.value for t in CriticalSecurityEventType)
MAX_BATCH = 100


class PushedSecurityEvent(BaseModel):
    """One event of a direct security-log push (the seed's schema)."""

    # defer_build: the schema is built on first validation, so functions that never validate these pay nothing.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    type: Annotated[CriticalSecurityEventType, Field(max_length=50)]
    timestamp: IsoInstant
    techInfo: Annotated[StrictStr, Field(max_length=255)] = ""  # noqa: N815 - AMPECO's name


class PushedSecurityEventBatch(BaseModel):
    """A direct push of several events: all are stored, or none."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    events: Annotated[list[PushedSecurityEvent], Field(min_length=1, max_length=MAX_BATCH)]


class SecurityEventNotification(BaseModel):
    """AMPECO's SecurityEventNotification; any OCPP type, nothing coerced, new fields tolerated."""

    model_config = ConfigDict(extra="ignore", strict=True, defer_build=True)

    notification: StrictStr
    chargePointId: Annotated[StrictInt, Field(ge=0, lt=2**53)]  # noqa: N815
    type: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    timestamp: IsoInstant
    critical: StrictBool
    techInfo: Annotated[StrictStr, Field(max_length=255)] | None = None  # noqa: N815 - OCPP's CiString255


class ListedSecurityEvent(BaseModel):
    """An item of the tenant's security-event listing v2.0 (`{id, chargePoint, type, techInfo, timestamp}`)."""

    model_config = ConfigDict(extra="ignore", strict=True, defer_build=True)

    id: Annotated[StrictInt, Field(ge=0, lt=2**53)]
    chargePoint: Annotated[StrictInt, Field(ge=0, lt=2**53)]  # noqa: N815
    type: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    timestamp: IsoInstant
    techInfo: Annotated[StrictStr, Field(max_length=255)] | None = None  # noqa: N815


class Channel(StrEnum):
    """How an event reached the bridge. A push and an AMPECO event are never merged; an AMPECO event is one
    event whether its notification or the tenant's listing (the reconciler) brought it first."""

    PUSH = "push"
    AMPECO = "ampeco"  # an AMPECO SecurityEventNotification
    RECONCILED = "reconciled"  # an item of the tenant's listing that no notification had brought

    @property
    def source(self) -> str:
        """The message's `data.source`: `push`, `webhook` or `reconciled`."""
        return "webhook" if self is Channel.AMPECO else self.value


@dataclass(frozen=True)
class SecurityEvent:
    """A security event as the bridge knows it, whatever channel brought it."""

    id: int
    event_id: str  # stable message id for subscribers
    charge_point: int
    type: str
    tech_info: str
    occurred_at: datetime  # UTC, to the microsecond as the sender gave it
    critical: bool
    channel: Channel
    dedup_key: str
    # The AMPECO delivery that brought it, kept on the event itself: one item, no separate record.
    delivery: NotificationRecord | None = None

    @property
    def listed(self) -> bool:
        """AMPECO's resource holds only the seven critical types."""
        return self.type in CRITICAL_TYPES


@dataclass(frozen=True)
class EventQuery:
    """One listing page's key condition: optional type and charge point, and an id (time) range."""

    type: str | None = None
    charge_point: int | None = None
    lowest_id: int = 0
    highest_id: int = 2**53 - 1


class InsertConflict(Exception):
    """A write was refused: the delivery's record exists already (`duplicate`), or id slots are held.

    `taken` maps an event's index to the dedup key of the event holding its slot: its own key means
    that event was stored before; another key means a different event sits there.
    """

    def __init__(self, *, duplicate: bool, taken: dict[int, str] | None = None) -> None:
        super().__init__("duplicate delivery" if duplicate else "id slot taken")
        self.duplicate = duplicate
        self.taken = taken or {}
