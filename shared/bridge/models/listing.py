"""Query parameters of the security-events listing, as AMPECO names them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bridge.errors import InvalidInput
from bridge.models.common import IsoInstant
from bridge.models.security_events import CriticalSecurityEventType
from bridge.models.sessions import SessionStatus
from bridge.validation import INVALID, invalid_input

SECURITY_EVENT_FILTERS = ("type", "chargePoint", "timestampFrom", "timestampTo")


class _Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: CriticalSecurityEventType | None = None
    chargePoint: Annotated[int, Field(gt=0, lt=2**53)] | None = None  # noqa: N815
    timestampFrom: IsoInstant | None = None  # noqa: N815
    timestampTo: IsoInstant | None = None  # noqa: N815


class _Paging(BaseModel):
    per_page: Annotated[int, Field(ge=1, le=100)] = 100
    cursor: str | None = None


@dataclass(frozen=True)
class SecurityEventListing:
    """A validated listing request."""

    type: str | None
    charge_point: int | None
    timestamp_from: datetime | None
    timestamp_to: datetime | None
    per_page: int
    cursor: str | None

    def filters(self) -> dict[str, str]:
        """The filters as query parameters, for links and cursor scope."""
        values = {
            "type": self.type,
            "chargePoint": None if self.charge_point is None else str(self.charge_point),
            "timestampFrom": None if self.timestamp_from is None else self.timestamp_from.isoformat(),
            "timestampTo": None if self.timestamp_to is None else self.timestamp_to.isoformat(),
        }
        return {f"filter[{k}]": v for k, v in values.items() if v is not None}


def split_filters(params: Mapping[str, str], supported: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """`filter[x]` values and the rest; an unsupported or malformed filter key is a 422."""
    filters: dict[str, str] = {}
    rest: dict[str, str] = {}
    for key, value in params.items():
        if key == "filter" or key.startswith("filter["):
            name = key[len("filter[") : -1] if key.startswith("filter[") and key.endswith("]") else key
            if name not in supported:
                allowed = ", ".join(f"filter[{s}]" for s in supported)
                raise InvalidInput(INVALID, errors={key: [f"Unknown filter. Supported filters: {allowed}."]})
            filters[name] = value
        else:
            rest[key] = value
    return filters, rest


def parse_security_event_listing(params: Mapping[str, str]) -> SecurityEventListing:
    """Validate the listing's query string; junk in any filter or paging value is a 422."""
    raw_filters, rest = split_filters(params, SECURITY_EVENT_FILTERS)
    for name in ("timestampFrom", "timestampTo"):
        if name in raw_filters:
            raw_filters[name] = unmangle_offset(raw_filters[name])
    try:
        filters = _Filters.model_validate(raw_filters)
    except ValidationError as exc:
        raise _renamed(invalid_input(exc)) from exc
    try:
        paging = _Paging.model_validate({k: v for k, v in rest.items() if k in ("per_page", "cursor")})
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    if filters.timestampFrom and filters.timestampTo and filters.timestampFrom > filters.timestampTo:
        raise InvalidInput(
            INVALID, errors={"filter[timestampFrom]": ["The timestampFrom must not be after timestampTo."]}
        )
    return SecurityEventListing(
        type=filters.type.value if filters.type else None,
        charge_point=filters.chargePoint,
        timestamp_from=filters.timestampFrom,
        timestamp_to=filters.timestampTo,
        per_page=paging.per_page,
        cursor=paging.cursor or None,  # an empty cursor asks for the first page
    )


def unmangle_offset(value: str) -> str:
    """An unencoded `+01:00` arrives as ` 01:00` (form decoding); put the plus back."""
    return re.sub(r" (\d{2}:?\d{2})$", r"+\1", value)


def _renamed(error: InvalidInput) -> InvalidInput:
    error.errors = {f"filter[{key}]": messages for key, messages in error.errors.items()}
    return error


SESSION_FILTERS = ("chargePointId", "evseId", "status", "idTag", "startedAfter", "startedBefore")


class _SessionFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    chargePointId: Annotated[int, Field(gt=0, lt=2**53)] | None = None  # noqa: N815
    evseId: Annotated[int, Field(gt=0, lt=2**53)] | None = None  # noqa: N815
    status: SessionStatus | None = None
    idTag: Annotated[str, Field(min_length=1, max_length=255)] | None = None  # noqa: N815
    startedAfter: IsoInstant | None = None  # noqa: N815
    startedBefore: IsoInstant | None = None  # noqa: N815


@dataclass(frozen=True)
class SessionListing:
    """A validated session listing request; AMPECO's other flags (withAuthorization, include[]) are ignored."""

    equals: dict[str, str | int]
    started_after: datetime | None
    started_before: datetime | None
    per_page: int
    cursor: str | None

    def filters(self) -> dict[str, str]:
        """The filters as query parameters, for links and cursor scope."""
        values: dict[str, str] = {f"filter[{k}]": str(v) for k, v in self.equals.items()}
        if self.started_after:
            values["filter[startedAfter]"] = self.started_after.isoformat()
        if self.started_before:
            values["filter[startedBefore]"] = self.started_before.isoformat()
        return values


def parse_session_listing(params: Mapping[str, str]) -> SessionListing:
    """Validate the session listing's query string."""
    raw_filters, rest = split_filters(params, SESSION_FILTERS)
    for name in ("startedAfter", "startedBefore"):
        if name in raw_filters:
            raw_filters[name] = unmangle_offset(raw_filters[name])
    try:
        filters = _SessionFilters.model_validate(raw_filters)
    except ValidationError as exc:
        raise _renamed(invalid_input(exc)) from exc
    try:
        paging = _Paging.model_validate({k: v for k, v in rest.items() if k in ("per_page", "cursor")})
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    if filters.startedAfter and filters.startedBefore and filters.startedAfter > filters.startedBefore:
        raise InvalidInput(
            INVALID, errors={"filter[startedAfter]": ["The startedAfter must not be after startedBefore."]}
        )
    equals = filters.model_dump(exclude_none=True, include={"chargePointId", "evseId", "status", "idTag"})
    return SessionListing(equals, filters.startedAfter, filters.startedBefore, paging.per_page, paging.cursor or None)
