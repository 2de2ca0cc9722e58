"""Sessions: AMPECO's session notifications as received, and the session as the bridge keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from bridge.models.common import IsoInstant
from bridge.models.session_fields import SessionFields

SessionStatus = Literal["unknown", "pending", "active", "finished", "failed", "expired"]

# AMPECO 3.110.0 Session's fields: what the resource serves (newer fields from a tenant are not served).
SESSION_FIELDS = [
    "id",
    "chargePointId",
    "evseId",
    "connectorId",
    "status",
    "reason",
    "userId",
    "bookingId",
    "startedAt",
    "stoppedAt",
    "energy",
    "powerKw",
    "socPercent",
    "amount",
    "totalAmount",
    "tax",
    "currency",
    "paymentType",
    "paymentMethodId",
    "terminalId",
    "nonBillableEnergy",
    "paymentStatus",
    "authorizationId",
    "idTag",
    "idTagLabel",
    "extendingSessionId",
    "originalSessionId",
    "extendedBySessionId",
    "reimbursementEligibility",
    "externalSessionId",
    "authorization",
    "chargingPeriods",
    "priceBreakdown",
    "tariffSnapshotId",
    "electricityCost",
    "evsePhysicalReference",
    "paymentStatusUpdatedAt",
    "chargePointOperatorRoamingId",
    "roaming",
    "lastUpdatedAt",
    "randomisedDelay",
    "receiptId",
    "externalAppData",
    "clockAlignedEnergyConsumption",
    "energyConsumption",
    "estimatedSavings",
    "billingStatus",
    "power",
]

SessionId = Annotated[StrictInt, Field(ge=0)] | Annotated[StrictStr, Field(min_length=1, max_length=64)]


class NotifiedSession(SessionFields):
    """The Session inside a SessionUpdateNotification: every field AMPECO types is checked, strictly."""

    # defer_build: built on first validation (a push, a listing or a start never needs it).
    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    id: SessionId
    chargePointId: StrictInt  # noqa: N815 - AMPECO's names
    evseId: StrictInt  # noqa: N815
    status: SessionStatus
    startedAt: IsoInstant  # noqa: N815
    stoppedAt: IsoInstant | None = None  # noqa: N815
    paymentStatusUpdatedAt: IsoInstant | None = None  # noqa: N815
    idTag: StrictStr | None = None  # noqa: N815
    lastUpdatedAt: IsoInstant | None = None  # noqa: N815
    randomisedDelay: Annotated[StrictInt, Field(ge=0)] | None = None  # noqa: N815


class SessionUpdateNotification(BaseModel):
    """`SessionUpdateNotification`: the full Session."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    notification: Literal["SessionUpdateNotification"]
    session: NotifiedSession


class SessionStartStopNotification(BaseModel):
    """`session.start.stop.notification` and its deprecated twin `SessionStartStopNotification`."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    notification: Literal["session.start.stop.notification", "SessionStartStopNotification"]
    sessionId: SessionId  # noqa: N815
    chargePointId: StrictInt  # noqa: N815
    evseId: StrictInt  # noqa: N815
    action: Literal["start", "stop"] | None = None
    startedAtTimestamp: IsoInstant  # noqa: N815
    stoppedAtTimestamp: IsoInstant | None = None  # noqa: N815
    userId: StrictInt | None = None  # noqa: N815
    idTag: StrictStr | None = None  # noqa: N815
    externalSessionId: StrictStr | None = None  # noqa: N815
    reason: StrictStr | None = None
    energyConsumed: StrictInt | float | None = None  # noqa: N815
    lastUpdatedAt: IsoInstant | None = None  # noqa: N815
    externalAppData: dict[str, Any] | None = None  # noqa: N815


SessionNotification = SessionUpdateNotification | SessionStartStopNotification

SESSION_NOTIFICATIONS = frozenset(
    {"SessionUpdateNotification", "session.start.stop.notification", "SessionStartStopNotification"}
)


@dataclass(frozen=True)
class Session:
    """A session as stored: AMPECO's fields, the keys the listing needs, its ordering instant and a version.

    `ordered_at` is the instant of the newest notification applied (see `bridge.sessions.ordering_instant`):
    never empty, never moved backwards.
    """

    id: str
    document: dict[str, Any]  # AMPECO's Session fields, id a string, randomisedDelay an integer
    charge_point: int
    evse: int
    status: str
    started_at: datetime
    id_tag: str | None
    ordered_at: datetime
    version: int = 0
