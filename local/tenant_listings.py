"""The simulated tenant's two listings, in the shapes and with the cursor pagination of AMPECO Public API 3.110.0.

`GET /public-api/resources/security-events/v2.0` lists the recorded events of the seven critical types (the
only ones AMPECO's resource holds), newest first: `timestamp` descending, then `id` descending. Filters:
`filter[type]` (one of the seven), `filter[chargePoint]` (an integer), `filter[timestampFrom]` and
`filter[timestampTo]` (ISO-8601 with an offset; both bounds inclusive).

`GET /public-api/resources/sessions/v1.0` lists the started sessions as full Session objects, oldest change
first: `lastUpdatedAt` ascending, then `id` ascending. Filters: `filter[lastUpdatedAfter]` and
`filter[lastUpdatedBefore]` (ISO-8601 with an offset; both inclusive, as AMPECO describes them: "on and
after", "on and before"), `filter[chargePointId]`, `filter[evseId]` (integers). A session updated while a
client pages moves behind the cursor's position, so the client sees it again, later; it is never skipped.

Both: `per_page` 1..100 (default 100); `cursor` empty or absent for the first page, else taken from
`links.next` / `links.prev`. A cursor is the position of the item it continues from, written as Laravel's
cursor paginator writes one: base64url (unpadded) JSON `{"<timestamp field>": "<instant>", "id": <id>,
"_pointsToNextItems": <bool>}`. A position, not an offset: items added while a client pages never shift its
pages, so nothing that was there is missed or repeated. `links.next` and `links.prev` are absolute URLs that
carry the request's own parameters and the cursor; `links.first` and `links.last` are null, as for any
cursor-paginated AMPECO listing. An empty filter value counts as absent. A filter the simulator does not
implement, a bad value, a `per_page` out of range or a cursor it did not write: 422 `{message, errors}`
keyed in Laravel's dot form (`filter.type`), so a reconciler's mistake is loud rather than silently unfiltered.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from local.tenant_records import (
    CRITICAL_TYPES,
    SecurityEventRecord,
    SimSession,
    iso_micro,
    parse_instant,
    session_resource,
    validation_error,
)

SECURITY_EVENTS_PATH = "/public-api/resources/security-events/v2.0"
SESSIONS_PATH = "/public-api/resources/sessions/v1.0"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 100

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
T = TypeVar("T")


class ListingError(Exception):
    """A request the listing refuses: 422 with AMPECO's `{message, errors}`."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return validation_error(self.errors)


@dataclass(frozen=True)
class Position:
    """Where an item sits in a listing: its timestamp and id."""

    instant: datetime
    id: int


@dataclass(frozen=True)
class Cursor:
    position: Position
    forward: bool  # Laravel's `_pointsToNextItems`


def encode_cursor(field: str, cursor: Cursor) -> str:
    document = {field: iso_micro(cursor.position.instant), "id": cursor.position.id}
    raw = json.dumps({**document, "_pointsToNextItems": cursor.forward}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(field: str, text: str) -> Cursor:
    """The cursor `encode_cursor(field, ...)` wrote; ValueError for anything else."""
    try:
        document = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a cursor") from exc
    if not isinstance(document, dict) or set(document) != {field, "id", "_pointsToNextItems"}:
        raise ValueError("not a cursor")
    instant = parse_instant(document[field]) if isinstance(document[field], str) else None
    item_id, forward = document["id"], document["_pointsToNextItems"]
    if instant is None or type(item_id) is not int or not isinstance(forward, bool):
        raise ValueError("not a cursor")
    return Cursor(Position(instant, item_id), forward)


@dataclass(frozen=True)
class _Request:
    filters: dict[str, Any]
    per_page: int
    cursor: Cursor | None


def security_events_listing(
    records: Iterable[SecurityEventRecord], query: Sequence[tuple[str, str]], base_url: str
) -> dict[str, Any]:
    """The 200 body for the query's page of events; ListingError for a request AMPECO would refuse."""
    request = _read(
        query, "timestamp", {"type": _critical_type, "chargePoint": _integer}, ("timestampFrom", "timestampTo")
    )
    wanted = request.filters
    listed = [
        record
        for record in records
        if record.listed
        and wanted.get("type", record.type) == record.type
        and wanted.get("chargePoint", record.charge_point) == record.charge_point
        and wanted.get("timestampFrom", record.timestamp)
        <= record.timestamp
        <= wanted.get("timestampTo", record.timestamp)
    ]
    page, after, before = _paginate(
        listed, lambda r: Position(r.timestamp, r.id), _newest_first, request.cursor, request.per_page
    )
    data = [record.listing_item() for record in page]
    return _body(base_url + SECURITY_EVENTS_PATH, query, "timestamp", request.per_page, data, after, before)


def sessions_listing(sessions: Iterable[SimSession], query: Sequence[tuple[str, str]], base_url: str) -> dict[str, Any]:
    """The 200 body for the query's page of sessions; ListingError for a request AMPECO would refuse."""
    request = _read(
        query,
        "lastUpdatedAt",
        {"chargePointId": _integer, "evseId": _integer},
        ("lastUpdatedAfter", "lastUpdatedBefore"),
    )
    wanted = request.filters
    listed = [
        session
        for session in sessions
        if wanted.get("chargePointId", session.charge_point_id) == session.charge_point_id
        and wanted.get("evseId", session.evse_id) == session.evse_id
        and wanted.get("lastUpdatedAfter", session.last_updated_at)
        <= session.last_updated_at
        <= wanted.get("lastUpdatedBefore", session.last_updated_at)
    ]
    page, after, before = _paginate(
        listed, lambda s: Position(s.last_updated_at, s.session_id), _oldest_first, request.cursor, request.per_page
    )
    data = [session_resource(session) for session in page]
    return _body(base_url + SESSIONS_PATH, query, "lastUpdatedAt", request.per_page, data, after, before)


# -- reading the query -------------------------------------------------------------------------------


def _critical_type(value: str) -> str | None:
    return value if value in CRITICAL_TYPES else None


def _integer(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() else None


def _read(
    query: Sequence[tuple[str, str]],
    cursor_field: str,
    scalar_filters: dict[str, Callable[[str], Any]],
    instant_filters: tuple[str, ...],
) -> _Request:
    params = dict(query)  # a repeated parameter: the last one counts, as in PHP
    errors: dict[str, list[str]] = {}
    filters: dict[str, Any] = {}
    for name, raw in params.items():
        if not (name.startswith("filter[") and name.endswith("]")) or not raw:
            continue
        key = name[len("filter[") : -1]
        if key in scalar_filters:
            value = scalar_filters[key](raw)
            message = f"The selected filter.{key} is invalid."
        elif key in instant_filters:
            value = parse_instant(raw)
            message = f"The filter.{key} must be an ISO-8601 date-time with an offset."
        else:
            value, message = None, f"The filter.{key} filter is not supported by the tenant simulator."
        if value is None:
            errors[f"filter.{key}"] = [message]
        else:
            filters[key] = value
    per_page = DEFAULT_PER_PAGE
    if params.get("per_page"):
        number = _integer(params["per_page"])
        if number is None or not 1 <= number <= MAX_PER_PAGE:
            errors["per_page"] = [f"The per page must be between 1 and {MAX_PER_PAGE}."]
        else:
            per_page = number
    cursor = None
    if params.get("cursor"):
        try:
            cursor = decode_cursor(cursor_field, params["cursor"])
        except ValueError:
            errors["cursor"] = ["The cursor is invalid."]
    if errors:
        raise ListingError(errors)
    return _Request(filters, per_page, cursor)


# -- pages -------------------------------------------------------------------------------------------


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _newest_first(position: Position) -> tuple[int, int]:
    return (-_micros(position.instant), -position.id)


def _oldest_first(position: Position) -> tuple[int, int]:
    return (_micros(position.instant), position.id)


def _paginate(
    items: list[T],
    position_of: Callable[[T], Position],
    order: Callable[[Position], tuple[int, int]],
    cursor: Cursor | None,
    per_page: int,
) -> tuple[list[T], Cursor | None, Cursor | None]:
    """(the page, the cursor after it, the cursor before it): keyset pagination by `order` of the positions."""
    ranked = sorted(items, key=lambda item: order(position_of(item)))
    if cursor is None or cursor.forward:
        mark = order(cursor.position) if cursor else None
        following = [item for item in ranked if mark is None or order(position_of(item)) > mark]
        page = following[:per_page]
        after = Cursor(position_of(page[-1]), True) if len(following) > per_page else None
        before = Cursor(position_of(page[0]), False) if cursor is not None and page else None
        return page, after, before
    mark = order(cursor.position)
    preceding = [item for item in ranked if order(position_of(item)) < mark]
    page = preceding[-per_page:]
    before = Cursor(position_of(page[0]), False) if len(preceding) > per_page else None
    after = Cursor(position_of(page[-1]), True) if page else None
    return page, after, before


def _body(
    path: str,
    query: Sequence[tuple[str, str]],
    cursor_field: str,
    per_page: int,
    data: list[dict[str, Any]],
    after: Cursor | None,
    before: Cursor | None,
) -> dict[str, Any]:
    kept = [(name, value) for name, value in query if name != "cursor"]

    def token(cursor: Cursor | None) -> str | None:
        return encode_cursor(cursor_field, cursor) if cursor else None

    def link(cursor: Cursor | None) -> str | None:
        return f"{path}?{urlencode([*kept, ('cursor', encode_cursor(cursor_field, cursor))])}" if cursor else None

    return {
        "data": data,
        "links": {"first": None, "last": None, "prev": link(before), "next": link(after)},
        "meta": {"path": path, "per_page": per_page, "next_cursor": token(after), "prev_cursor": token(before)},
    }
