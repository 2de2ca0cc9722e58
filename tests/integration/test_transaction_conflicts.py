"""A DynamoDB TransactionConflict (another transaction on the same items) is retried briefly, not answered 503.

moto serialises calls, so two deliveries never really collide here: the collision is injected into the
second delivery's transaction, which is what DynamoDB answers while the first one is being written.
"""

from __future__ import annotations

import json
from typing import Any

from tests.contract.schemas import example
from tests.harness import Bridge, fault, security_event

SESSIONS = "/public-api/resources/sessions/v1.0"
BATCH = {
    "events": [
        security_event("FirmwareUpdated", "2026-11-25T10:00:00.000001Z"),
        security_event("ResetOrReboot", "2026-11-25T10:00:00.000002Z"),
    ]
}


def stored_events(bridge: Bridge) -> list[dict[str, Any]]:
    return [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "securityEvent"]


def update(**fields: Any) -> dict[str, Any]:
    body = example("notification_session_update")
    body["session"].update(fields)
    return body


# ---------------------------------------------------------------------- security-event batches
def test_a_duplicate_batch_meeting_a_conflict_is_answered_as_a_repeat_and_stored_once(bridge: Bridge) -> None:
    # Given a batch stored once
    first = bridge.push(1, BATCH, webhook_id="msg_concurrent")
    assert first.status == 202

    # When its duplicate's transaction collides with another transaction on the same items
    with fault("dynamodb", "TransactWriteItems", kind="conflict", times=1) as conflict:
        again = bridge.push(1, BATCH, webhook_id="msg_concurrent")

    # Then, retried, it meets the stored events: a repeat, stored and relayed once
    assert conflict.fired == 1
    assert (again.status, again.json["ids"]) == (200, first.json["ids"])
    assert len(stored_events(bridge)) == 2
    assert bridge.relay() == 2
    assert len(bridge.queue_messages("CriticalSecurityEventsQueue")) == 2


def test_a_new_batch_meeting_a_conflict_is_stored_after_a_retry(bridge: Bridge) -> None:
    with fault("dynamodb", "TransactWriteItems", kind="conflict", times=2) as conflict:
        answer = bridge.push(1, BATCH)
    assert conflict.fired == 2
    assert answer.status == 202
    assert len(stored_events(bridge)) == 2


def test_conflicts_that_outlast_the_retries_are_503_and_store_nothing(bridge: Bridge) -> None:
    with fault("dynamodb", "TransactWriteItems", kind="conflict") as conflict:
        answer = bridge.push(1, BATCH)
    assert conflict.fired >= 2
    assert answer.status == 503
    assert "retry-after" in answer.headers
    assert stored_events(bridge) == []


# ---------------------------------------------------------------------- session notifications
def test_a_repeated_session_notification_meeting_a_conflict_is_applied_once(bridge: Bridge) -> None:
    # Given a notification applied
    raw = json.dumps(update(energy=100)).encode()
    assert bridge.notify(raw).status == 202
    [before] = bridge.table_items("SessionsTable")

    # When the same delivery arrives again while the first one's transaction holds the items
    with fault("dynamodb", "TransactWriteItems", kind="conflict", times=1) as conflict:
        answer = bridge.notify(raw)

    # Then it is acknowledged as a repeat and the session is untouched
    assert conflict.fired == 1
    assert answer.status == 200
    [after] = bridge.table_items("SessionsTable")
    assert after == before
    assert after["version"]["N"] == "1"


def test_a_concurrent_newer_session_notification_is_applied_after_a_conflict(bridge: Bridge) -> None:
    assert bridge.notify(update(energy=100, lastUpdatedAt="2025-11-24T18:20:05Z")).status == 202

    with fault("dynamodb", "TransactWriteItems", kind="conflict", times=1) as conflict:
        answer = bridge.notify(update(energy=200, lastUpdatedAt="2025-11-24T18:25:00Z"))

    assert conflict.fired == 1
    assert answer.status == 202
    session = bridge.request("GET", f"{SESSIONS}/987654").json["data"]
    assert session["energy"] == 200
    [item] = bridge.table_items("SessionsTable")
    assert item["version"]["N"] == "2"
