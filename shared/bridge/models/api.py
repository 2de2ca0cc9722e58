"""The API's response bodies as models, for the OpenAPI document only (`local.openapi_doc`).

The handlers build these shapes as plain dicts (`bridge.responses`, `bridge.sessions`, `bridge.http_errors`) and
never import this module, so it costs no cold start; the fuzz suite checks every answer against the document.
Shapes follow AMPECO 3.110.0 as the contract narrows it (tests/contract/schemas/).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from bridge.models.security_events import (
    CriticalSecurityEventType,
    PushedSecurityEvent,
    PushedSecurityEventBatch,
    SecurityEventNotification,
)
from bridge.models.session_fields import PaymentType, Reason
from bridge.models.sessions import SessionStartStopNotification, SessionStatus, SessionUpdateNotification
from bridge.models.starts import StartRequest, TenantStartAnswer

T = TypeVar("T")
MAX_SAFE_INTEGER = 2**53 - 1
Omittable: TypeAlias = T | SkipJsonSchema[None]
"""A field AMPECO may leave out but never sends as null."""
Url = Annotated[str, Field(pattern="^https?://")]
Decimal = Annotated[float, Field(json_schema_extra={"format": "decimal"})]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(_Closed):
    """AMPECO's error body."""

    message: Annotated[str, Field(min_length=1)]
    errors: Omittable[dict[str, Annotated[list[str], Field(min_length=1)]]] = Field(
        default=None, description="Each invalid field (or header, or query parameter) with what is wrong with it."
    )


class UpstreamError(_Closed):
    """The bridge's own answer when the tenant failed a start."""

    message: Annotated[str, Field(min_length=1)]
    errorCode: Annotated[  # noqa: N815 - AMPECO's names
        str, Field(pattern="^UPSTREAM_(UNAVAILABLE|TIMEOUT|INVALID_RESPONSE|HTTP_[1-5][0-9][0-9])$")
    ]


class PushAccepted(_Closed):
    """A direct push's answer: the id each event has, in the order sent (the same on a repeat)."""

    message: str
    ids: list[Annotated[int, Field(ge=1, le=MAX_SAFE_INTEGER)]]


class NotificationAccepted(_Closed):
    """An AMPECO notification's acknowledgement."""

    message: str


class Health(_Closed):
    """Liveness."""

    status: Literal["ok"]


class StartAccepted(TenantStartAnswer):
    """The tenant's 202 body, unchanged: `success: false` with an `errorCode` (any string) is a rejection."""


class SecurityEvent(_Closed):
    """AMPECO's security event (one of the seven critical types)."""

    id: Annotated[int, Field(ge=1, le=MAX_SAFE_INTEGER, description="Stable for the event.")]
    chargePoint: int  # noqa: N815
    type: CriticalSecurityEventType
    techInfo: Annotated[str, Field(max_length=255, description="Empty when none was sent.")]  # noqa: N815
    timestamp: Annotated[datetime, Field(description="The instant the sender gave, to the microsecond.")]


class Links(_Closed):
    """Absolute URLs; `next` carries every filter and the cursor, null on the last page."""

    first: Url | None = None
    last: Url | None = None
    prev: Url | None = None
    next: Url | None


class Meta(_Closed):
    """Cursor pagination: pass `next_cursor` as `cursor` for the next page."""

    path: str
    per_page: Annotated[int, Field(ge=1, le=100)]
    next_cursor: Annotated[str, Field(min_length=1)] | None
    prev_cursor: Annotated[str, Field(min_length=1)] | None = None


class SecurityEventsListing(_Closed):
    """One page of security events."""

    data: Annotated[list[SecurityEvent], Field(max_length=100)]
    links: Links
    meta: Meta


class SecurityEventRead(_Closed):
    """One security event."""

    data: SecurityEvent


# ---------------------------------------------------------------------- AMPECO's Session
class Money(_Closed):
    withTax: float  # noqa: N815
    withoutTax: Omittable[float] = None  # noqa: N815


class EnergyConsumption(_Closed):
    total: float
    local: Omittable[float] = None
    grid: float


class SessionTax(_Closed):
    taxId: Omittable[int] = None  # noqa: N815
    taxPercentage: Omittable[Decimal] = None  # noqa: N815


class SessionPower(_Closed):
    latest: float | None = None
    peak: float | None = None
    average: float | None = None


class AuthorizationRoaming(_Closed):
    platformId: Omittable[int] = None  # noqa: N815
    platformRoleId: Omittable[int] = None  # noqa: N815
    platformRole: Omittable[str] = None  # noqa: N815
    reference: Omittable[str] = None
    client: Omittable[str] = None


class SessionAuthorization(_Closed):
    id: int
    method: Literal["user_device", "rfid_tag", "admin", "plug_and_charge"]
    source: Literal["local", "roaming", "third_party"]
    createdAt: datetime  # noqa: N815
    status: Literal["accepted", "rejected"]
    rejectionReason: str | None  # noqa: N815
    userId: int | None = None  # noqa: N815
    rfidTagUid: str | None = None  # noqa: N815
    roaming: Omittable[AuthorizationRoaming] = None
    lastUpdatedAt: Omittable[datetime] = None  # noqa: N815


class PriceBreakdownElement(_Closed):
    type: Literal[
        "flat",
        "connection",
        "energy",
        "charging_time",
        "idle_time",
        "power_levels_time",
        "min_price",
        "service_fee",
        "energy_flat_fee",
        "duration_flat_fee",
        "idle_flat_fee",
    ]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    unit: Literal["kwh", "minute", "session"]
    pricePerUnit: Money  # noqa: N815
    quantity: Decimal
    price: Money
    taxPercentage: Decimal | None = None  # noqa: N815


class SessionPriceBreakdownElement(PriceBreakdownElement):
    totalPrice: Annotated[Decimal, Field(deprecated=True)]  # noqa: N815
    unitPrice: Annotated[Decimal, Field(deprecated=True)]  # noqa: N815


class PricingDetails(_Closed):
    chargingType: Literal["boosted", "optimised"] | None = None  # noqa: N815
    dayPeriod: Literal["day", "night"] | None = None  # noqa: N815
    pricingMethod: Literal["duration", "energy", "durationAndEnergy", "free"] | None = None  # noqa: N815
    price: Omittable[Decimal] = None
    markup: Omittable[Decimal] = None
    initialEnergyPrice: Omittable[Decimal] = None  # noqa: N815
    initialDurationPrice: Omittable[Decimal] = None  # noqa: N815
    startHour: Omittable[str] = None  # noqa: N815
    endHour: Omittable[str] = None  # noqa: N815
    day: Omittable[str] = None


class ChargingPeriod(_Closed):
    id: int
    energy: int
    startedAt: datetime  # noqa: N815
    stoppedAt: datetime | None = None  # noqa: N815
    state: Annotated[str, Field(deprecated=True)]
    chargingState: Omittable[Literal["charging", "idle"]] = None  # noqa: N815
    pricingDetails: Omittable[PricingDetails] = None  # noqa: N815
    amount: Decimal | None = None
    priceBreakdown: Omittable[list[PriceBreakdownElement]] = None  # noqa: N815


class SessionRoaming(_Closed):
    cdrIds: Omittable[list[int]] = None  # noqa: N815
    sessionId: Omittable[str] = None  # noqa: N815
    roamingOperatorCpoId: Omittable[int] = None  # noqa: N815
    cpoLastUpdatedAt: Omittable[datetime] = None  # noqa: N815


class ClockAlignedEnergy(_Closed):
    start: datetime
    end: datetime
    energyConsumed: Annotated[int, Field(deprecated=True)]  # noqa: N815
    energyConsumption: EnergyConsumption  # noqa: N815
    totalCost: Omittable[Money] = None  # noqa: N815


SessionReason = Reason  # one list of AMPECO's reasons, the one notifications are checked against


class Session(_Closed):
    """AMPECO's Session as the bridge serves it: `id` a string, `randomisedDelay` always an integer of seconds."""

    id: Annotated[str, Field(min_length=1)]
    chargePointId: int  # noqa: N815
    evseId: int  # noqa: N815
    connectorId: int | None = None  # noqa: N815
    status: SessionStatus
    reason: Omittable[SessionReason] = None
    userId: int | None  # noqa: N815
    bookingId: Omittable[int] = None  # noqa: N815
    startedAt: datetime  # noqa: N815
    stoppedAt: datetime | None = None  # noqa: N815
    energy: Annotated[float, Field(deprecated=True)]
    powerKw: Annotated[Omittable[float], Field(deprecated=True)] = None  # noqa: N815
    socPercent: Omittable[float] = None  # noqa: N815
    amount: Annotated[Decimal | None, Field(deprecated=True)] = None
    totalAmount: Money | None = None  # noqa: N815
    tax: Annotated[SessionTax | None, Field(deprecated=True)] = None
    currency: Omittable[Annotated[str, Field(min_length=3, max_length=3)]] = None
    paymentType: Omittable[PaymentType] = None  # noqa: N815
    paymentMethodId: str | None = None  # noqa: N815
    terminalId: int | None = None  # noqa: N815
    nonBillableEnergy: Omittable[float] = None  # noqa: N815
    paymentStatus: Literal["pending", "paid", "partially", "failed"] | None = None  # noqa: N815
    authorizationId: int | None  # noqa: N815
    idTag: Omittable[str] = None  # noqa: N815
    idTagLabel: Omittable[str] = None  # noqa: N815
    extendingSessionId: Annotated[int | None, Field(deprecated=True)] = None  # noqa: N815
    originalSessionId: Omittable[int] = None  # noqa: N815
    extendedBySessionId: Omittable[int] = None  # noqa: N815
    reimbursementEligibility: Omittable[bool] = None  # noqa: N815
    externalSessionId: Annotated[str | None, Field(deprecated=True)] = None  # noqa: N815
    authorization: Omittable[SessionAuthorization] = None
    chargingPeriods: Omittable[list[ChargingPeriod]] = None  # noqa: N815
    priceBreakdown: Omittable[list[SessionPriceBreakdownElement]] = None  # noqa: N815
    tariffSnapshotId: int | None = None  # noqa: N815
    electricityCost: Decimal | None = None  # noqa: N815
    evsePhysicalReference: str | None = None  # noqa: N815
    paymentStatusUpdatedAt: datetime | None = None  # noqa: N815
    chargePointOperatorRoamingId: Omittable[str] = None  # noqa: N815
    roaming: Omittable[SessionRoaming] = None
    lastUpdatedAt: Omittable[datetime] = None  # noqa: N815
    randomisedDelay: Annotated[int, Field(ge=0, description="Seconds; 0 when no delay applied.")]  # noqa: N815
    receiptId: Annotated[int | None, Field(deprecated=True)] = None  # noqa: N815
    externalAppData: dict[str, Any] | None = None  # noqa: N815
    clockAlignedEnergyConsumption: Omittable[list[ClockAlignedEnergy]] = None  # noqa: N815
    energyConsumption: EnergyConsumption  # noqa: N815
    estimatedSavings: Omittable[float] = None  # noqa: N815
    billingStatus: Literal["pending", "suspended", "completed"] | None  # noqa: N815
    power: Omittable[SessionPower] = None


class SessionsListing(_Closed):
    """One page of sessions."""

    data: Annotated[list[Session], Field(max_length=100)]
    links: Links
    meta: Meta


class SessionRead(_Closed):
    """One session."""

    data: Session


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    Error,
    UpstreamError,
    PushAccepted,
    NotificationAccepted,
    Health,
    StartAccepted,
    SecurityEventsListing,
    SecurityEventRead,
    SessionsListing,
    SessionRead,
)
"""Every body the routes declare (`bridge.api_doc` names them)."""


class OtherNotification(BaseModel):
    """Any other notification AMPECO sends: recorded and acknowledged, never refused."""

    model_config = ConfigDict(extra="allow")

    notification: str


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    PushedSecurityEvent,
    PushedSecurityEventBatch,
    SecurityEventNotification,
    SessionUpdateNotification,
    SessionStartStopNotification,
    OtherNotification,
    StartRequest,
)
"""Every request body the routes take, as the bridge validates it (its own models)."""
