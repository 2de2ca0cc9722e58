"""Session starts: AMPECO's request body, the tenant's 202 answer, and the recorded attempt."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from bridge.error_codes import UPSTREAM_TIMEOUT, UPSTREAM_UNKNOWN
from bridge.models.common import IsoInstant


def _tenths(value: float) -> float:
    # The decimal digits as written (16.1 is not a float multiple of 0.1), by exponent rather than remainder:
    # a remainder needs the whole quotient, which overflows Decimal's precision from about 1e27 on.
    exponent = Decimal(str(value)).normalize().as_tuple().exponent if math.isfinite(value) else None
    if not isinstance(exponent, int) or exponent < -1:
        raise ValueError("must be a finite multiple of 0.1")
    return value


Tenth = Annotated[StrictInt | StrictFloat, AfterValidator(_tenths)]


class ChargingSchedulePeriod(BaseModel):
    # defer_build: built on first validation; only the starts function validates these.
    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    startPeriod: StrictInt  # noqa: N815 - AMPECO's names
    limit: Tenth
    numberPhases: StrictInt | None = None  # noqa: N815


class ChargingSchedule(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    id: StrictInt | StrictFloat | None = None
    duration: StrictInt | None = None
    startSchedule: IsoInstant | None = None  # noqa: N815
    chargingRateUnit: Literal["A", "W"]  # noqa: N815
    chargingSchedulePeriod: list[ChargingSchedulePeriod]  # noqa: N815
    minChargingRate: Tenth | None = None  # noqa: N815


class ChargingProfile(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    transactionId: StrictInt | None = None  # noqa: N815
    stackLevel: StrictInt  # noqa: N815
    chargingProfilePurpose: Literal["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]  # noqa: N815
    chargingProfileKind: Literal["Absolute", "Recurring", "Relative"]  # noqa: N815
    recurrencyKind: Literal["Daily", "Weekly"] | None = None  # noqa: N815
    validFrom: IsoInstant | None = None  # noqa: N815
    validTo: IsoInstant | None = None  # noqa: N815
    chargingSchedule: ChargingSchedule  # noqa: N815


class StartRequest(BaseModel):
    """AMPECO's start body; unknown fields are allowed and forwarded unchanged."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    userId: StrictInt | None = None  # noqa: N815
    paymentMethodId: StrictStr | None = None  # noqa: N815
    externalSessionId: StrictStr | None = None  # noqa: N815
    idTag: StrictStr | None = None  # noqa: N815
    connectorId: StrictInt | None = None  # noqa: N815
    bookingId: StrictInt | None = None  # noqa: N815
    chargingProfile: ChargingProfile | None = None  # noqa: N815

    @model_validator(mode="after")
    def _payment_method_needs_user(self) -> StartRequest:
        if self.paymentMethodId and self.userId is None:
            raise ValueError("userId is required when paymentMethodId is given")
        return self


class TenantStartAnswer(BaseModel):
    """The tenant's 202 body, checked strictly: anything else is not AMPECO's answer."""

    model_config = ConfigDict(extra="allow", strict=True, defer_build=True)

    success: StrictBool
    sessionId: StrictInt | StrictFloat | None  # noqa: N815
    authorizationId: StrictInt | StrictFloat | None  # noqa: N815
    message: StrictStr | None = None
    errorCode: StrictStr | None = None  # noqa: N815


class StartPath(StrEnum):
    """Which of AMPECO's two start paths was used."""

    CHARGE_POINT = "chargePoint"
    EVSE = "evse"


@dataclass(frozen=True)
class StartTarget:
    """Where to start: a charge point and the EVSE's network id, or an EVSE id."""

    path: StartPath
    charge_point: int | None = None
    evse_network_id: int | None = None
    evse_id: int | None = None

    def tenant_path(self) -> str:
        """The same AMPECO path on the tenant."""
        if self.path is StartPath.CHARGE_POINT:
            return f"/public-api/actions/charge-point/v1.0/{self.charge_point}/start/{self.evse_network_id}"
        return f"/public-api/actions/evse/v1.0/{self.evse_id}/start"

    @property
    def match_key(self) -> str:
        """What a session must share to answer this start: the charge point on the charge-point path (whose
        EVSE network id a session does not carry), the EVSE on the EVSE path."""
        if self.path is StartPath.CHARGE_POINT:
            return charge_point_key(self.charge_point)
        return evse_key(self.evse_id)


def charge_point_key(charge_point: int | None) -> str:
    return f"CP#{charge_point}"


def evse_key(evse_id: int | None) -> str:
    return f"EVSE#{evse_id}"


class Outcome(StrEnum):
    """A start's result as subscribers route on it."""

    STARTED = "started"
    REJECTED = "rejected"  # the tenant said success: false
    FAILED = "failed"  # anything else that did not start a session


class AttemptState(StrEnum):
    """Where an attempt is in its life."""

    PENDING = "pending"  # stored before the tenant call; the result is not known yet
    FINAL = "final"  # the result is recorded (and relayed)
    ABANDONED = "abandoned"  # never sent to the tenant: the caller was told 429/503; never relayed


@dataclass(frozen=True)
class StartAnswer:
    """The HTTP answer to a start (the tenant's body unchanged, or the bridge's own)."""

    status: int
    body: str
    attempt_id: str
    retry_after: str | None = None

    @property
    def final(self) -> bool:
        """202s and passed-through 4xx other than 429 are final: a repeat with the same key gets them again."""
        return self.status < 500 and self.status != 429


AMBIGUOUS_CODES = frozenset({UPSTREAM_TIMEOUT, UPSTREAM_UNKNOWN})
_CORRECTION_NAMESPACE = uuid.UUID("6c0f4a52-93be-4b8e-8d43-0c5e3b1f7a21")


@dataclass(frozen=True)
class Attempt:
    """One start request: stored pending before the tenant call, final after it.

    `revision` counts the results subscribers were told: 1 for the first, one more for each correction
    (a result found after a sweep had given up on it). Each revision is its own message.
    """

    attempt_id: str
    target: StartTarget
    request_body: str
    request_truncated: bool
    created_at: datetime
    idempotency_key: str | None = None
    state: AttemptState = AttemptState.PENDING
    outcome: Outcome | None = None
    error_code: str | None = None
    tenant_status: int | None = None
    tenant_body: str | None = None
    tenant_body_truncated: bool = False
    session_id: str | None = None
    authorization_id: str | None = None
    duration_ms: int | None = None
    completed_at: datetime | None = None
    answer: StartAnswer | None = None  # what the caller was told, for an idempotent repeat
    revision: int = 0
    corrects: str | None = None  # the eventId of the message this revision corrects

    @property
    def final(self) -> bool:
        """Whether the result is known."""
        return self.state is AttemptState.FINAL

    @property
    def event_id(self) -> str:
        """The message id of the current revision: the attempt id first, a derived id for each correction."""
        return event_id_of(self.attempt_id, self.revision)

    @property
    def releases_key(self) -> bool:
        """Whether a repeat with the same Idempotency-Key may start again: never sent, or retryable."""
        if self.state is AttemptState.ABANDONED:
            return True
        if self.state is not AttemptState.FINAL or self.answer is None:
            return False
        # A sweep's verdict means the tenant may have started a session: the key stays bound.
        return not self.answer.final and self.error_code != UPSTREAM_UNKNOWN

    @property
    def ambiguous(self) -> bool:
        """Whether the tenant may have started a session nobody was told of: a timeout, or a sweep's verdict."""
        return self.final and self.outcome is Outcome.FAILED and self.error_code in AMBIGUOUS_CODES

    @property
    def requested_id_tag(self) -> str | None:
        """The request's idTag, when it had one (a truncated or odd body has none we can trust)."""
        tag = self.request_fields().get("idTag")
        return tag if isinstance(tag, str) else None

    def request_fields(self) -> dict[str, str | int | None]:
        """What identifies the driver in the request (idTag, userId, externalSessionId), None when not given."""
        body: object = None
        if not self.request_truncated and self.request_body:
            try:
                body = json.loads(self.request_body)
            except ValueError:
                body = None
        given = body if isinstance(body, dict) else {}
        tag, user, external = given.get("idTag"), given.get("userId"), given.get("externalSessionId")
        return {
            "idTag": tag if isinstance(tag, str) else None,
            "userId": user if isinstance(user, int) and not isinstance(user, bool) else None,
            "externalSessionId": external if isinstance(external, str) else None,
        }

    def completed(self, **result: object) -> Attempt:
        """A copy with the result filled in."""
        return replace(self, **result)  # type: ignore[arg-type]


def event_id_of(attempt_id: str, revision: int) -> str:
    """The first result's message keeps the attempt id; a correction gets an id of its own."""
    if revision <= 1:
        return attempt_id
    return str(uuid.uuid5(_CORRECTION_NAMESPACE, f"{attempt_id}#{revision}"))
