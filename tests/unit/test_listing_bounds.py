"""Listing bounds to the microsecond over per-millisecond ids: exact pages, full pages, exact cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge import event_ids
from bridge.models.security_events import Channel, EventQuery, SecurityEvent
from bridge.security_events import event_query, list_events

MS = datetime(2026, 11, 25, 10, 0, 0, 100000, tzinfo=UTC)


class SortedStore:
    """The table's Query: ids in the key range, newest first, at most `limit`; counts the queries."""

    def __init__(self, events: list[SecurityEvent]) -> None:
        self.events = sorted(events, key=lambda e: e.id, reverse=True)
        self.queries = 0

    def query(self, query: EventQuery, limit: int) -> list[SecurityEvent]:
        self.queries += 1
        return [e for e in self.events if query.lowest_id <= e.id <= query.highest_id][:limit]


def at(micro: int) -> datetime:
    return MS + timedelta(microseconds=micro)


def events_in_one_millisecond(micros: list[int]) -> list[SecurityEvent]:
    """One event per microsecond offset, their slots deliberately out of time order (as hashes put them)."""
    slots = [(7 * n) % len(micros) * 100 for n in range(len(micros))]  # 0, 700, 400, 100, 800, ...
    base = event_ids.lowest_id(event_ids.epoch_ms(MS))
    return [
        SecurityEvent(base + slot, f"e{m}", 1, "FirmwareUpdated", "", at(m), True, Channel.PUSH, f"k{m}")
        for slot, m in zip(slots, micros, strict=True)
    ]


MICROS = [0, 100, 200, 300, 400, 500, 600, 700, 800, 999]


@pytest.mark.parametrize("per_page", [1, 2, 3, 100])
@pytest.mark.parametrize(("since", "until"), [(150, 650), (None, 450), (450, None), (200, 200), (201, 299)])
def test_pages_hold_exactly_the_events_inside_the_bounds_and_are_full_until_the_last(
    per_page: int, since: int | None, until: int | None
) -> None:
    store = SortedStore(events_in_one_millisecond(MICROS))
    listing = event_query(
        None, None, at(since) if since is not None else None, at(until) if until is not None else None
    )
    inside = {e.id for e in store.events if listing.admits(e)}

    seen: list[int] = []
    below = None
    while True:
        page = list_events(store, listing, per_page, below)
        seen += [e.id for e in page.items]
        if page.continue_below is None:
            break
        assert len(page.items) == per_page
        assert page.continue_below == page.items[-1].id  # the next page starts right after the last item
        below = page.continue_below

    assert seen == sorted(inside, reverse=True)


def test_bounds_on_whole_milliseconds_need_one_query() -> None:
    store = SortedStore(events_in_one_millisecond(MICROS))
    page = list_events(store, event_query(None, None, MS, MS + timedelta(microseconds=999)), 100)
    assert len(page.items) == len(MICROS)
    assert store.queries == 1


def test_bounds_outside_the_id_range_read_nothing() -> None:
    store = SortedStore(events_in_one_millisecond(MICROS))
    far = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert list_events(store, event_query(None, None, far, None), 10).items == []
    assert list_events(store, event_query(None, None, None, datetime(1, 1, 1, tzinfo=UTC)), 10).items == []
    assert store.queries == 0
