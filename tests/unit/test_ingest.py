"""The security-event service with an in-memory store: id probing, dedup, all-or-nothing batches."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bridge import event_ids
from bridge.errors import InvalidInput, StorageUnavailable
from bridge.models.notifications import NotificationRecord
from bridge.models.security_events import Channel, EventQuery, InsertConflict, SecurityEvent
from bridge.security_events import event_query, ingest_push, list_events


class MemoryStore:
    """Conditional puts on id, like the table; atomic over a whole insert."""

    def __init__(self) -> None:
        self.events: dict[int, SecurityEvent] = {}
        self.notifications: set[str] = set()
        self.inserts = 0

    def insert(self, events: Sequence[SecurityEvent], notification: NotificationRecord | None = None) -> None:
        self.inserts += 1
        if notification and notification.fingerprint in self.notifications:
            raise InsertConflict(duplicate=True)
        taken = {i: self.events[e.id].dedup_key for i, e in enumerate(events) if e.id in self.events}
        if taken:
            dup = any(events[i].dedup_key == key for i, key in taken.items())
            raise InsertConflict(duplicate=dup, taken=taken)
        self.events.update({e.id: e for e in events})

    def get(self, event_id: int) -> SecurityEvent | None:
        return self.events.get(event_id)

    def query(self, query: EventQuery, limit: int) -> list[SecurityEvent]:
        found = [
            e
            for e in self.events.values()
            if query.lowest_id <= e.id <= query.highest_id
            and (query.type is None or e.type == query.type)
            and (query.charge_point is None or e.charge_point == query.charge_point)
        ]
        return sorted(found, key=lambda e: e.id, reverse=True)[:limit]


def body(*types: str, at: str = "2026-11-25T10:00:00Z") -> bytes:
    return json.dumps({"events": [{"type": t, "timestamp": at} for t in types]}).encode()


def test_a_taken_slot_moves_the_newcomer_to_its_next_candidate() -> None:
    store = MemoryStore()
    moment = datetime(2026, 11, 25, 10, tzinfo=UTC)
    # Occupy the first candidate of the event we are about to push with some other event.
    squatter_id = next(event_ids.candidate_ids(moment, "push:1:msg:0"))
    store.events[squatter_id] = SecurityEvent(
        squatter_id, "x", 9, "FirmwareUpdated", "", moment, True, Channel.PUSH, "other"
    )

    result = ingest_push(store, 1, "msg", body("ResetOrReboot"))

    assert result.new
    assert result.events[0].id == list(event_ids.candidate_ids(moment, "push:1:msg:0"))[1]
    assert store.inserts == 2
    # A redelivery walks the same probe sequence and finds itself.
    again = ingest_push(store, 1, "msg", body("ResetOrReboot"))
    assert not again.new
    assert again.events[0].id == result.events[0].id


def test_a_batch_with_one_bad_event_stores_nothing() -> None:
    store = MemoryStore()
    with pytest.raises(InvalidInput):
        ingest_push(store, 1, "msg", body("ResetOrReboot", "Nope"))
    assert store.events == {}


def test_a_store_that_never_settles_gives_up_retryably() -> None:
    class Full(MemoryStore):
        def insert(self, events: Sequence[SecurityEvent], notification: NotificationRecord | None = None) -> None:
            raise InsertConflict(duplicate=False, taken={0: "someone-else"})

    with pytest.raises(StorageUnavailable):
        ingest_push(Full(), 1, "msg", body("ResetOrReboot"))


def test_pages_continue_below_the_last_id_and_stop_exactly() -> None:
    store = MemoryStore()
    for i in range(5):
        ingest_push(store, 1, f"m{i}", body("ResetOrReboot", at=f"2026-11-25T10:00:0{i}Z"))
    query = event_query(None, None, None, None)
    first = list_events(store, query, 2)
    second = list_events(store, query, 2, first.continue_below)
    third = list_events(store, query, 2, second.continue_below)
    assert len(first.items) == len(second.items) == 2
    assert len(third.items) == 1
    assert third.continue_below is None
    ids = [e.id for e in first.items + second.items + third.items]
    assert ids == sorted(ids, reverse=True)
