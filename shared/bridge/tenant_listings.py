"""The tenant's own listings, paged for the reconciler through the one tenant client.

Each page is one GET under the client's deadline and a size cap. The query is built here from our own
bounds and the tenant's `next_cursor`; a URL the tenant hands back is never followed as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bridge.errors import BridgeError
from bridge.models.common import iso_instant
from bridge.reconcile import ListingFailed, ListingPage
from bridge.tenant_client import TenantClient

SECURITY_EVENTS_PATH = "/public-api/resources/security-events/v2.0"
SESSIONS_PATH = "/public-api/resources/sessions/v1.0"
PER_PAGE = 100  # AMPECO's maximum
MAX_PAGE_BYTES = 4 * 1024 * 1024  # 100 full sessions are far below this


class TenantListings:
    def __init__(self, client: TenantClient) -> None:
        self._client = client

    def security_events(self, since: datetime, cursor: str | None) -> ListingPage:
        """Security events stamped at or after `since` (the listing holds only the critical types)."""
        return self._page(SECURITY_EVENTS_PATH, {"filter[timestampFrom]": iso_instant(since)}, cursor)

    def sessions(self, since: datetime, cursor: str | None) -> ListingPage:
        """Sessions changed after `since`."""
        return self._page(SESSIONS_PATH, {"filter[lastUpdatedAfter]": iso_instant(since)}, cursor)

    def _page(self, path: str, filters: dict[str, str], cursor: str | None) -> ListingPage:
        query = {**filters, "per_page": str(PER_PAGE), "cursor": cursor or ""}
        try:
            answer = self._client.get_json(path, query, MAX_PAGE_BYTES)
        except BridgeError as exc:  # the tenant failed, or its token is unset or unreadable
            raise ListingFailed(f"{exc.error_code or exc.reason or type(exc).__name__}: {exc.message}") from exc
        if answer.status != 200:
            retry = f", Retry-After {answer.retry_after}" if answer.retry_after else ""
            # A 4xx to a page after the first most likely means the tenant no longer knows the cursor.
            stale = cursor is not None and answer.status in (400, 404, 410, 422)
            raise ListingFailed(f"HTTP {answer.status}{retry}", stale_cursor=stale)
        return parse_page(answer.json())


def parse_page(document: Any) -> ListingPage:
    """`{data: [...], links: {next}, meta: {next_cursor}}`; anything else is not a page."""
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise ListingFailed("the answer is not a listing page")
    meta: dict[str, Any] = document["meta"] if isinstance(document.get("meta"), dict) else {}
    links: dict[str, Any] = document["links"] if isinstance(document.get("links"), dict) else {}
    cursor = meta.get("next_cursor")
    if not isinstance(cursor, str) or not cursor:
        cursor = _cursor_of(links.get("next"))
    if cursor is None and isinstance(links.get("next"), str):
        raise ListingFailed("the next page's link carries no cursor")
    return ListingPage(document["data"], cursor)


def _cursor_of(link: Any) -> str | None:
    if not isinstance(link, str) or not link:
        return None
    values = parse_qs(urlsplit(link).query).get("cursor")
    return values[0] if values and values[0] else None
