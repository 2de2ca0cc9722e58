"""The listing and read endpoints' work: validate the query, page through one index, sign cursors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge import cursors
from bridge.errors import NotFound
from bridge.models.common import iso_instant
from bridge.models.listing import parse_security_event_listing, parse_session_listing
from bridge.responses import paginated, security_event_resource
from bridge.security_events import event_query, list_events, read_event
from bridge.sessions import session_resource
from bridge.storage.sessions import SessionQuery
from bridge.wiring import QueryDependencies

SECURITY_EVENTS_PATH = "/public-api/resources/security-events/v2.0"
SESSIONS_PATH = "/public-api/resources/sessions/v1.0"


class _Pager:
    """Signed cursors bound to a listing's filters, and the AMPECO page around the items."""

    def __init__(self, deps: QueryDependencies, path: str, filters: dict[str, str]) -> None:
        self._deps = deps
        self._secret_id = deps.settings.cursor_secret_arn
        self._path = path
        self._filters = filters
        self._scope = cursors.scope_of({"listing": path, **filters})  # a cursor fits one listing and filters

    def position(self, cursor: str | None) -> dict[str, Any] | None:
        """Where the cursor points (None: the first page); 422 for a forged or foreign cursor."""
        if not cursor:
            return None
        return cursors.decode(self._deps.secrets_in_rotation(self._secret_id), self._scope, cursor)

    def page(
        self, data: list[dict[str, Any]], base_url: str, per_page: int, resume: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The page, with a cursor to `resume` when there is more."""
        next_cursor = cursors.encode(self._deps.secret(self._secret_id), self._scope, resume) if resume else None
        return paginated(
            data, base_url=base_url, path=self._path, query=self._filters, per_page=per_page, next_cursor=next_cursor
        )


def security_event_listing(deps: QueryDependencies, params: Mapping[str, str], base_url: str) -> dict[str, Any]:
    """One page of security events, newest first, with a signed cursor to the next."""
    request = parse_security_event_listing(params)
    pager = _Pager(deps, SECURITY_EVENTS_PATH, request.filters())
    position = pager.position(request.cursor)
    below = int(position.get("below", 0)) or None if position else None
    query = event_query(request.type, request.charge_point, request.timestamp_from, request.timestamp_to)
    page = list_events(deps.events, query, request.per_page, below)
    resume = {"below": page.continue_below} if page.continue_below is not None else None
    return pager.page([security_event_resource(e) for e in page.items], base_url, request.per_page, resume)


def security_event(deps: QueryDependencies, raw_id: str) -> dict[str, Any]:
    """One security event, or 404."""
    found = read_event(deps.events, raw_id)
    if found is None:
        raise NotFound("Security event not found.")
    return {"data": security_event_resource(found)}


def session_listing(deps: QueryDependencies, params: Mapping[str, str], base_url: str) -> dict[str, Any]:
    """One page of sessions, newest started first (then id descending), each with randomisedDelay."""
    request = parse_session_listing(params)
    pager = _Pager(deps, SESSIONS_PATH, request.filters())
    position = pager.position(request.cursor)
    after = (str(position.get("id", "")), str(position.get("key", ""))) if position else None
    query = SessionQuery(
        filters=request.equals,
        # Keys are "<time to the microsecond>#<id>": "#" sorts after the bare time and before "$".
        lowest_key=iso_instant(request.started_after) if request.started_after else "0",
        highest_key=iso_instant(request.started_before) + "$" if request.started_before else "~",
        after=after,
    )
    sessions, last = deps.sessions.query(query, request.per_page)
    resume = {"id": last[0], "key": last[1]} if last else None
    return pager.page([session_resource(s) for s in sessions], base_url, request.per_page, resume)


def session(deps: QueryDependencies, raw_id: str) -> dict[str, Any]:
    """One session, or 404."""
    found = deps.sessions.get(raw_id) if 0 < len(raw_id) <= 64 else None
    if found is None:
        raise NotFound("Session not found.")
    return {"data": session_resource(found)}
