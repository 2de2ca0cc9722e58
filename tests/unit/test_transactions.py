"""Cancelled transactions: conflicts are retried briefly, failed conditions are answered as today."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bridge.errors import StorageUnavailable
from bridge.models.notifications import NotificationRecord, NotificationStatus
from bridge.models.security_events import Channel, InsertConflict, SecurityEvent
from bridge.models.sessions import Session
from bridge.sessions import VersionConflict
from bridge.storage import dynamo
from bridge.storage.dynamo import TransactionCancelled, transact_write
from bridge.storage.security_events import SecurityEventTable
from bridge.storage.sessions import SessionTable

CONFLICT = "TransactionConflict"
CONDITION = "ConditionalCheckFailed"


def cancelled(*codes: str, items: list[dict[str, Any] | None] | None = None) -> ClientError:
    """A TransactionCanceledException as botocore raises it: one reason per item, in item order."""
    reasons: list[dict[str, Any]] = [{"Code": code} for code in codes]
    for reason, item in zip(reasons, items or [], strict=False):
        if item is not None:
            reason["Item"] = item
    error = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}, "CancellationReasons": reasons}
    return ClientError(error, "TransactWriteItems")  # type: ignore[arg-type]


class StubClient:
    """Answers each TransactWriteItems with the next scripted outcome (an exception, or None for success)."""

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[list[dict[str, Any]]] = []

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(TransactItems)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return {}


class Pauses:
    """Records the pauses instead of sleeping."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


ITEMS = [
    {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}}}},
    {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}}},
]


# ---------------------------------------------------------------------- the helper
def test_a_conflict_is_retried_until_the_transaction_goes_through() -> None:
    client, pauses = StubClient(cancelled(CONFLICT, "None"), cancelled("None", CONFLICT), None), Pauses()
    transact_write(client, ITEMS, sleep=pauses)
    assert len(client.calls) == 3
    assert all(call == ITEMS for call in client.calls)
    assert len(pauses.taken) == 2


def test_a_condition_that_fails_on_the_retry_is_surfaced_with_its_reasons() -> None:
    # The other writer won: the retry meets its item, as a duplicate would.
    client = StubClient(cancelled(CONFLICT, CONFLICT), cancelled(CONDITION, "None"))
    with pytest.raises(TransactionCancelled) as raised:
        transact_write(client, ITEMS, sleep=Pauses())
    assert set(raised.value.failed_conditions()) == {0}


def test_a_failed_condition_beside_a_conflict_is_not_retried() -> None:
    client = StubClient(cancelled(CONFLICT, CONDITION))
    with pytest.raises(TransactionCancelled) as raised:
        transact_write(client, ITEMS, sleep=Pauses())
    assert len(client.calls) == 1
    assert set(raised.value.failed_conditions()) == {1}


def test_conflicts_that_outlast_the_retries_are_storage_unavailable_within_a_bounded_time() -> None:
    client, pauses = StubClient(*[cancelled(CONFLICT, "None")] * 10), Pauses()
    with pytest.raises(StorageUnavailable):
        transact_write(client, ITEMS, sleep=pauses)
    assert len(client.calls) == dynamo.CONFLICT_RETRIES + 1
    worst = sum(dynamo.CONFLICT_BACKOFF_SECONDS * 2**n for n in range(dynamo.CONFLICT_RETRIES))
    assert 0 <= sum(pauses.taken) <= worst < 0.5
    assert all(0 <= pause <= dynamo.CONFLICT_BACKOFF_SECONDS * 2**n for n, pause in enumerate(pauses.taken))


@pytest.mark.parametrize("codes", [("ThrottlingError", "None"), ("ValidationError", "None"), ()])
def test_a_cancellation_for_another_reason_is_not_retried(codes: tuple[str, ...]) -> None:
    client = StubClient(cancelled(*codes))
    with pytest.raises(StorageUnavailable):
        transact_write(client, ITEMS, sleep=Pauses())
    assert len(client.calls) == 1


def test_other_client_errors_pass_through_for_storage_errors_to_translate() -> None:
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "TransactWriteItems")
    with pytest.raises(ClientError):
        transact_write(StubClient(error), ITEMS, sleep=Pauses())


# ---------------------------------------------------------------------- the tables that use it (real pauses: < 0.15 s)
def record() -> NotificationRecord:
    return NotificationRecord("fp", "SessionUpdateNotification", NotificationStatus.PROCESSED, datetime.now(UTC), "{}")


def event(event_id: int, dedup_key: str) -> SecurityEvent:
    at = datetime(2026, 11, 25, 10, tzinfo=UTC)
    return SecurityEvent(event_id, "e", 1, "FirmwareUpdated", "", at, True, Channel.PUSH, dedup_key)


def session() -> Session:
    at = datetime(2025, 11, 24, 18, tzinfo=UTC)
    return Session("987654", {"id": "987654"}, 1187, 2301, "active", at, None, ordered_at=at, version=2)


def test_a_batch_meeting_its_own_concurrent_duplicate_is_answered_as_stored_before() -> None:
    mine = {"dedupKey": {"S": "push:1:m:0"}}
    client = StubClient(cancelled(CONFLICT, CONFLICT), cancelled(CONDITION, CONDITION, items=[mine, mine]))
    table = SecurityEventTable("events", client=client)

    with pytest.raises(InsertConflict) as raised:
        table.insert([event(1, "push:1:m:0"), event(2, "push:1:m:1")])

    assert not raised.value.duplicate
    assert raised.value.taken == {0: "push:1:m:0", 1: "push:1:m:0"}
    assert len(client.calls) == 2


def test_a_notification_whose_record_is_being_written_concurrently_is_a_duplicate() -> None:
    client = StubClient(cancelled(CONFLICT, "None"), cancelled(CONDITION, "None"))
    table = SecurityEventTable("events", client=client)
    with pytest.raises(InsertConflict) as raised:
        table.insert([event(1, "ampeco:fp")], record())
    assert raised.value.duplicate


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ((cancelled(CONFLICT, CONFLICT), None), None),
        ((cancelled(CONFLICT, CONFLICT), cancelled(CONDITION, "None")), InsertConflict),
        ((cancelled("None", CONFLICT), cancelled("None", CONDITION)), VersionConflict),
        ((cancelled(CONFLICT, CONFLICT),) * 4, StorageUnavailable),
    ],
    ids=["applied after a conflict", "repeat", "lost race", "conflicts outlast the retries"],
)
def test_a_session_save_under_conflict(
    outcomes: tuple[Exception | None, ...], expected: type[Exception] | None
) -> None:
    client = StubClient(*outcomes)
    table = SessionTable("sessions", "notifications", client=client)
    if expected is None:
        table.save(session(), 1, record())
    else:
        with pytest.raises(expected):
            table.save(session(), 1, record())
    assert len(client.calls) == len(outcomes)
