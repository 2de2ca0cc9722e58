"""Session ordering on the pure domain functions, with an in-memory store: every arrival order, every tie."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

import pytest

from bridge.models.notifications import NotificationRecord, NotificationStatus
from bridge.models.security_events import InsertConflict
from bridge.models.session_fields import Reason
from bridge.models.sessions import Session, SessionNotification
from bridge.sessions import VersionConflict, apply_notification, ordering_instant, session_from_notification
from tests.contract.schemas import example

SESSION_ID = "987654"


class MemorySessionStore:
    """Like the table: the record and the session in one conditional write (record new, version as read)."""

    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}
        self.records: dict[str, NotificationRecord] = {}

    def get(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def save(self, session: Session | None, expected_version: int | None, record: NotificationRecord) -> None:
        if record.fingerprint in self.records:
            raise InsertConflict(duplicate=True)
        if session is not None:
            stored = self.sessions.get(session.id)
            if (stored.version if stored else None) != expected_version:
                raise VersionConflict(session.id)
            self.sessions[session.id] = session
        self.records[record.fingerprint] = record


@dataclass(frozen=True)
class Sent:
    """One notification as AMPECO sends it: its kind, a marker to tell it apart, and its times."""

    kind: str  # "update", "start" or "stop"
    marker: int
    last: str | None = None
    started: str = "18:02:11"
    stopped: str | None = None
    paid: str | None = None

    def body(self) -> dict[str, Any]:
        at = {k: f"2025-11-24T{v}Z" if v else None for k, v in vars(self).items() if k not in ("kind", "marker")}
        if self.kind == "update":
            body = example("notification_session_update")
            session = body["session"]
            session.update(reason=MARKERS[self.marker], startedAt=at["started"], stoppedAt=at["stopped"])
            session["status"] = "finished" if self.stopped else "active"
            if self.paid:
                session["paymentStatusUpdatedAt"] = at["paid"]
            session.pop("lastUpdatedAt")
            if self.last:
                session["lastUpdatedAt"] = at["last"]
            return body
        body = example("notification_session_start_stop", "stop" if self.kind == "stop" else None)
        body.update(reason=MARKERS[self.marker], startedAtTimestamp=at["started"])
        if self.kind == "stop":
            body["stoppedAtTimestamp"] = at["stopped"]
        body.pop("lastUpdatedAt")
        if self.last:
            body["lastUpdatedAt"] = at["last"]
        return body

    def parsed(self) -> SessionNotification:
        raw = json.dumps(self.body()).encode()
        kind = "SessionUpdateNotification" if self.kind == "update" else "session.start.stop.notification"
        notification, problem = session_from_notification(raw, kind)
        assert notification is not None, problem
        return notification


# Which notification a stored session came from: a distinct (valid) AMPECO `reason` per notification.
MARKERS = list(get_args(Reason))


def deliver(store: MemorySessionStore, sent: Sent, fingerprint: str) -> bool:
    record = NotificationRecord(
        fingerprint=fingerprint,
        notification=sent.kind,
        status=NotificationStatus.PROCESSED,
        received_at=datetime(2026, 11, 25, tzinfo=UTC),
        body="",
    )
    return apply_notification(store, sent.parsed(), record).applied


def marker_of(session: Session) -> int:
    return MARKERS.index(session.document["reason"])


def instant(hms: str) -> datetime:
    return datetime.fromisoformat(f"2025-11-24T{hms}Z")


# (first arrival, second arrival, whether the second is applied)
CASES = [
    # both with lastUpdatedAt
    (Sent("update", 1, last="18:20:05"), Sent("update", 2, last="18:10:00"), False),
    (Sent("update", 1, last="18:10:00"), Sent("update", 2, last="18:20:05"), True),
    (Sent("update", 1, last="18:20:05"), Sent("update", 2, last="18:20:05"), True),
    (Sent("update", 1, last="18:20:05.000001"), Sent("update", 2, last="18:20:05"), False),
    # the stored one with lastUpdatedAt, the incoming one without: its own latest instant counts
    (Sent("update", 1, last="18:20:05"), Sent("update", 2), False),
    (Sent("update", 1, last="18:20:05"), Sent("update", 2, stopped="19:00:00"), True),
    (Sent("update", 1, last="18:20:05"), Sent("update", 2, paid="18:20:05"), True),
    (Sent("update", 1, last="18:20:05"), Sent("update", 2, paid="18:20:04.999999"), False),
    # the stored one without lastUpdatedAt (the finding), the incoming one with it
    (Sent("update", 1, stopped="19:00:00"), Sent("update", 2, last="18:30:00"), False),
    (Sent("update", 1, stopped="19:00:00"), Sent("update", 2, last="19:00:00"), True),
    (Sent("update", 1, paid="19:10:00"), Sent("update", 2, last="19:00:00"), False),
    (Sent("update", 1), Sent("update", 2, last="18:20:05"), True),
    # neither with lastUpdatedAt
    (Sent("update", 1), Sent("update", 2), True),
    (Sent("update", 1, stopped="19:00:00"), Sent("update", 2), False),
    (Sent("update", 1), Sent("update", 2, stopped="19:00:00"), True),
    # updates and start/stop notifications
    (Sent("start", 1), Sent("update", 2, last="18:20:05"), True),
    (Sent("update", 1, last="18:20:05"), Sent("start", 2), False),
    (Sent("update", 1, last="18:20:05"), Sent("start", 2, last="18:02:12"), False),
    (Sent("update", 1, last="18:20:05"), Sent("stop", 2, stopped="21:40:53"), True),
    (Sent("stop", 1, stopped="21:40:53"), Sent("update", 2, last="18:20:05"), False),
    (Sent("stop", 1, stopped="21:40:53"), Sent("update", 2), False),
    (Sent("update", 1, last="21:40:53"), Sent("stop", 2, stopped="21:40:53"), True),
    (Sent("update", 1, stopped="21:40:53"), Sent("stop", 2, stopped="21:40:53", last="21:40:54"), True),
    # start/stop notifications only
    (Sent("start", 1), Sent("stop", 2, stopped="21:40:53"), True),
    (Sent("stop", 1, stopped="21:40:53"), Sent("start", 2), False),
    (Sent("stop", 1, stopped="21:40:53", last="21:40:54"), Sent("start", 2, last="18:02:12"), False),
    (Sent("start", 1, last="18:02:12"), Sent("stop", 2, stopped="21:40:53", last="21:40:54"), True),
    (Sent("start", 1), Sent("start", 2, last="18:02:12"), True),
    (Sent("start", 1), Sent("start", 2), True),
]


@pytest.mark.parametrize(
    ("first", "second", "applied"), CASES, ids=[f"{a.kind}-{b.kind}-{n}" for n, (a, b, _) in enumerate(CASES)]
)
def test_the_second_arrival_wins_only_if_it_is_not_older(first: Sent, second: Sent, applied: bool) -> None:
    # Given the first notification stored
    store = MemorySessionStore()
    assert deliver(store, first, "first")
    before = store.sessions[SESSION_ID]

    # When the second arrives
    assert deliver(store, second, "second") is applied

    # Then the session is the winner's, and its ordering instant is the later of the two, never earlier
    after = store.sessions[SESSION_ID]
    assert marker_of(after) == (2 if applied else 1)
    expected_at = max(ordering_instant(first.parsed()), ordering_instant(second.parsed()))
    assert after.ordered_at == expected_at >= before.ordered_at
    assert after.version == (2 if applied else 1)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (Sent("update", 0, last="18:20:05.123456"), "18:20:05.123456"),
        (Sent("update", 0, last="18:00:00", stopped="19:00:00"), "18:00:00"),
        (Sent("update", 0), "18:02:11"),
        (Sent("update", 0, stopped="19:00:00", paid="19:05:00"), "19:05:00"),
        (Sent("update", 0, stopped="19:05:00", paid="19:00:00"), "19:05:00"),
        (Sent("start", 0), "18:02:11"),
        (Sent("start", 0, last="18:02:12"), "18:02:12"),
        (Sent("stop", 0, stopped="21:40:53"), "21:40:53"),
    ],
)
def test_the_ordering_instant_is_last_updated_at_else_the_latest_instant_stated(sent: Sent, expected: str) -> None:
    assert ordering_instant(sent.parsed()) == instant(expected)


def test_the_stored_instant_is_never_cleared_by_a_notification_without_last_updated_at() -> None:
    store = MemorySessionStore()
    deliver(store, Sent("update", 1, last="18:20:05"), "a")
    deliver(store, Sent("stop", 2, stopped="21:40:53"), "b")
    deliver(store, Sent("update", 3, last="21:00:00"), "c")

    session = store.sessions[SESSION_ID]
    assert session.ordered_at == instant("21:40:53")
    assert (marker_of(session), session.status) == (2, "finished")


def test_a_repeat_changes_nothing() -> None:
    store = MemorySessionStore()
    sent = Sent("update", 1, last="18:20:05")
    assert deliver(store, sent, "same")
    before = store.sessions[SESSION_ID]

    record = NotificationRecord("same", "update", NotificationStatus.PROCESSED, datetime.now(UTC), "")
    change = apply_notification(store, sent.parsed(), record)

    assert (change.applied, change.new_delivery) == (False, False)
    assert store.sessions[SESSION_ID] == before


def test_an_ignored_older_notification_is_still_recorded_once() -> None:
    store = MemorySessionStore()
    deliver(store, Sent("update", 1, last="18:20:05"), "newer")
    record = NotificationRecord("older", "update", NotificationStatus.PROCESSED, datetime.now(UTC), "")

    first = apply_notification(store, Sent("update", 2, last="18:10:00").parsed(), record)
    again = apply_notification(store, Sent("update", 2, last="18:10:00").parsed(), record)

    assert (first.applied, first.new_delivery, again.new_delivery) == (False, True, False)
    assert store.records["older"].reason == "older than the stored session; not applied"
