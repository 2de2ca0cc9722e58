"""Query parameters of the security-events listing, as AMPECO names them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bridge.errors import InvalidInput
from bridge.models.common import DigitsInt, IsoInstant
from bridge.models.security_events import CriticalSecurityEventType
from bridge.models.sessions import SessionStatus
from bridge.validation import INVALID, invalid_input

SECURITY_EVENT_FILTERS = ("type", "chargePoint", "timestampFrom", "timestampTo")


class _Filters(BaseModel):
    # defer_build: built on first validation; only the queries function validates these.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    type: CriticalSecurityEventType | None = None
    chargePoint: Annotated[DigitsInt, Field(gt=0, lt=2**53)] | None = None  # noqa: N815
    timestampFrom: IsoInstant | None = None  # noqa: N815
    timestampTo: IsoInstant | None = None  # noqa: N815


class _Paging(BaseModel):
    model_config = ConfigDict(defer_build=True)

    per_page: Annotated[DigitsInt, Field(ge=1, le=100)] = 100
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
    filters, paging = _validated(params, SECURITY_EVENT_FILTERS, _Filters, ("timestampFrom", "timestampTo"))
    return SecurityEventListing(
        type=filters.type.value if filters.type else None,
        charge_point=filters.chargePoint,
        timestamp_from=filters.timestampFrom,
        timestamp_to=filters.timestampTo,
        per_page=paging.per_page,
        cursor=paging.cursor or None,  # an empty cursor asks for the first page
    )


M = TypeVar("M", bound=BaseModel)


def _validated(
    params: Mapping[str, str], supported: tuple[str, ...], model: type[M], window: tuple[str, str]
) -> tuple[M, _Paging]:
    """Filters and paging of a listing; `window` names the inclusive time bounds, which must be in order."""
    raw_filters, rest = split_filters(params, supported)
    for name in window:
        if name in raw_filters:
            raw_filters[name] = unmangle_offset(raw_filters[name])
    try:
        filters = model.model_validate(raw_filters)
    except ValidationError as exc:
        raise _renamed(invalid_input(exc)) from exc
    try:
        paging = _Paging.model_validate({k: v for k, v in rest.items() if k in ("per_page", "cursor")})
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    since, until = (getattr(filters, name) for name in window)
    if since and until and since > until:
        message = f"The {window[0]} must not be after {window[1]}."
        raise InvalidInput(INVALID, errors={f"filter[{window[0]}]": [message]})
    return filters, paging


def unmangle_offset(value: str) -> str:
    """An unencoded `+01:00` arrives as ` 01:00` (form decoding); put the plus back."""
    return re.sub(r" (\d{2}:?\d{2})$", r"+\1", value)


def _renamed(error: InvalidInput) -> InvalidInput:
    error.errors = {f"filter[{key}]": messages for key, messages in error.errors.items()}
    return error


SESSION_FILTERS = ("chargePointId", "evseId", "status", "idTag", "startedAfter", "startedBefore")


class _SessionFilters(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    chargePointId: Annotated[DigitsInt, Field(gt=0, lt=2**53)] | None = None  # noqa: N815
    evseId: Annotated[DigitsInt, Field(gt=0, lt=2**53)] | None = None  # noqa: N815
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
    filters, paging = _validated(params, SESSION_FILTERS, _SessionFilters, ("startedAfter", "startedBefore"))
    equals = filters.model_dump(exclude_none=True, include={"chargePointId", "evseId", "status", "idTag"})
    return SessionListing(equals, filters.startedAfter, filters.startedBefore, paging.per_page, paging.cursor or None)
