"""The tenant simulator's listing logic without sockets: instants, cursors, page edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from local.tenant_listings import (
    Cursor,
    ListingError,
    Position,
    decode_cursor,
    encode_cursor,
    security_events_listing,
    sessions_listing,
)
from local.tenant_records import SimSession, TenantRecords, parse_instant

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "http://tenant.test"


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-03-01T12:00:00Z", BASE),
        ("2026-03-01T14:00:00+02:00", BASE),
        ("2026-03-01T12:00:00.000001Z", BASE + timedelta(microseconds=1)),
        ("2026-03-01T12:00:00.5-01:00", BASE + timedelta(hours=1, milliseconds=500)),
    ],
)
def test_an_instant_with_an_offset_is_read_in_utc(text: str, instant: datetime) -> None:
    assert parse_instant(text) == instant


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-01T12:00:00",  # no offset
        "2026-03-01 12:00:00Z",
        "2026-03-01T12:00:00.1234567Z",  # finer than a microsecond
        "2026-03-01T12:00:00+0200",
        "2026-02-30T12:00:00Z",
        "2026-03-01T12:00:00Z\n",
        "",
    ],
)
def test_anything_else_is_not_an_instant(text: str) -> None:
    assert parse_instant(text) is None


def test_a_cursor_round_trips_and_names_its_listings_field() -> None:
    cursor = Cursor(Position(BASE, 7), forward=False)
    text = encode_cursor("timestamp", cursor)
    assert "=" not in text
    assert decode_cursor("timestamp", text) == cursor
    with pytest.raises(ValueError, match="cursor"):
        decode_cursor("lastUpdatedAt", text)


@pytest.mark.parametrize(
    "text", ["x", "e30", "bnVsbA", "eyJ0aW1lc3RhbXAiOjEsImlkIjoxLCJfcG9pbnRzVG9OZXh0SXRlbXMiOnRydWV9"]
)
def test_a_cursor_it_did_not_write_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        decode_cursor("timestamp", text)


def _events(count: int) -> TenantRecords:
    records = TenantRecords()
    for minute in range(count):
        records.add_security_event(1, "FirmwareUpdated", BASE + timedelta(minutes=minute))
    return records


def test_a_page_exactly_full_has_no_next() -> None:
    page = security_events_listing(_events(3).security_events(), [("per_page", "3")], URL)
    assert len(page["data"]) == 3
    assert page["links"]["next"] is None


def test_an_empty_listing_has_no_links() -> None:
    page = security_events_listing([], [], URL)
    assert page["data"] == []
    assert page["links"] == {"first": None, "last": None, "prev": None, "next": None}


def test_next_then_prev_then_next_again_cover_the_same_pages() -> None:
    events = _events(5).security_events()
    first = security_events_listing(events, [("per_page", "2")], URL)
    second = security_events_listing(events, [("per_page", "2"), ("cursor", first["meta"]["next_cursor"])], URL)
    back = security_events_listing(events, [("per_page", "2"), ("cursor", second["meta"]["prev_cursor"])], URL)
    again = security_events_listing(events, [("per_page", "2"), ("cursor", back["meta"]["next_cursor"])], URL)
    assert back["data"] == first["data"]
    assert again["data"] == second["data"]
    assert back["meta"]["prev_cursor"] is None


def test_ties_on_the_instant_are_ordered_by_id() -> None:
    records = TenantRecords()
    ids = [records.add_security_event(1, "ResetOrReboot", BASE).id for _ in range(3)]
    page = security_events_listing(records.security_events(), [], URL)
    assert [item["id"] for item in page["data"]] == sorted(ids, reverse=True)
    sessions = [SimSession(i, i, 1, 1, 1, None, None, BASE, BASE) for i in (3, 1, 2)]
    assert [s["id"] for s in sessions_listing(sessions, [], URL)["data"]] == ["1", "2", "3"]


def test_the_links_carry_the_requests_parameters_but_one_cursor() -> None:
    events = _events(3).security_events()
    query = [("filter[timestampFrom]", "2026-03-01T13:00:00+01:00"), ("per_page", "1")]
    first = security_events_listing(events, query, URL)
    second = security_events_listing(events, [*query, ("cursor", first["meta"]["next_cursor"])], URL)
    assert first["links"]["next"].startswith(URL + "/public-api/resources/security-events/v2.0?")
    assert "filter%5BtimestampFrom%5D=2026-03-01T13%3A00%3A00%2B01%3A00" in first["links"]["next"]
    assert second["links"]["next"].count("cursor=") == 1


def test_every_bad_parameter_is_named_once() -> None:
    with pytest.raises(ListingError) as refused:
        security_events_listing([], [("per_page", "0"), ("filter[type]", "x"), ("filter[chargePoint]", "y")], URL)
    assert set(refused.value.errors) == {"per_page", "filter.type", "filter.chargePoint"}
    assert refused.value.body()["message"].endswith("(and 2 more errors)")
