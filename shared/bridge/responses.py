"""AMPECO-shaped response bodies: resources and cursor-paginated listings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from bridge.models.common import iso_instant
from bridge.models.security_events import SecurityEvent


def security_event_resource(event: SecurityEvent) -> dict[str, Any]:
    """AMPECO's security event: `{id, chargePoint, type, techInfo, timestamp}`."""
    return {
        "id": event.id,
        "chargePoint": event.charge_point,
        "type": event.type,
        "techInfo": event.tech_info,
        "timestamp": iso_instant(event.occurred_at),
    }


def paginated(
    data: list[dict[str, Any]],
    *,
    base_url: str,
    path: str,
    query: Mapping[str, str],
    per_page: int,
    next_cursor: str | None,
) -> dict[str, Any]:
    """AMPECO's cursor pagination: `links.next` carries every filter and the cursor."""
    endpoint = base_url + path
    first_query = {**query, "per_page": str(per_page)}
    next_link = None
    if next_cursor is not None:
        next_link = f"{endpoint}?{urlencode({**first_query, 'cursor': next_cursor})}"
    return {
        "data": data,
        "links": {
            "first": f"{endpoint}?{urlencode(first_query)}",
            "last": None,
            "prev": None,
            "next": next_link,
        },
        "meta": {"path": endpoint, "per_page": per_page, "next_cursor": next_cursor, "prev_cursor": None},
    }
