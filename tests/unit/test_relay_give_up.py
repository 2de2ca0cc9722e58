"""The relay over in-memory ports: retried while young, kept for redrive when old; never lost, never doubled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from bridge.errors import StorageUnavailable
from bridge.redrive import redrive
from bridge.relay import RelayOutcome, StoredChange, relay_change
from tests.unit.fakes import LOST, ManualClock, MemoryUndelivered, RecordingPublisher

GIVE_UP = timedelta(seconds=300)
EVENT_IMAGE = {
    "kind": "securityEvent",
    "sk": 3677434429440793,
    "eventId": "32e81108-1ecc-5c84-bdcc-7e96005798d2",
    "chargePoint": 42,
    "eventType": "TamperDetectionActivated",
    "techInfo": "lid",
    "occurredAt": "2026-11-25T15:58:00.123456Z",
    "critical": True,
    "channel": "push",
    "dedupKey": "push:42:msg_1:0",
}


def sns_down() -> ClientError:
    return ClientError({"Error": {"Code": "InternalError", "Message": "Topic arn:aws:sns:x secret"}}, "Publish")


def change(clock: ManualClock, age_seconds: float) -> StoredChange:
    return StoredChange(EVENT_IMAGE, None, clock() - timedelta(seconds=age_seconds), "SecurityEventsTable pk=SE sk=1")


def test_a_young_failure_is_raised_so_lambda_retries_it() -> None:
    clock, publish, undelivered = ManualClock(), RecordingPublisher(), MemoryUndelivered()
    publish.faults.fail("publish", sns_down())
    with pytest.raises(ClientError):
        relay_change(change(clock, 10), publish, undelivered, clock(), GIVE_UP)
    assert publish.faults.fired["publish"] == 1
    assert undelivered.entries == {}
    # Lambda's retry succeeds: published once
    assert relay_change(change(clock, 20), publish, undelivered, clock(), GIVE_UP) is RelayOutcome.PUBLISHED
    assert len(publish.published) == 1


def test_an_old_failure_is_kept_for_redrive_with_the_code_never_the_message_text() -> None:
    clock, publish, undelivered = ManualClock(), RecordingPublisher(), MemoryUndelivered()
    publish.faults.fail("publish", sns_down())
    outcome = relay_change(change(clock, 301), publish, undelivered, clock(), GIVE_UP)
    assert outcome is RelayOutcome.GIVEN_UP
    [entry] = undelivered.entries.values()
    assert entry.message.event_id == EVENT_IMAGE["eventId"]
    assert (entry.reason, entry.source) == ("InternalError", "SecurityEventsTable pk=SE sk=1")


def test_a_failing_redrive_store_is_raised_so_nothing_is_dropped() -> None:
    clock, publish, undelivered = ManualClock(), RecordingPublisher(), MemoryUndelivered()
    publish.faults.fail("publish", sns_down())
    undelivered.faults.fail("record", RuntimeError("dynamodb down"))
    with pytest.raises(RuntimeError):
        relay_change(change(clock, 400), publish, undelivered, clock(), GIVE_UP)
    assert undelivered.faults.fired["record"] == 1


def test_redrive_publishes_each_kept_message_once_with_its_event_id_then_forgets_it() -> None:
    clock, publish, undelivered = ManualClock(), RecordingPublisher(), MemoryUndelivered()
    publish.faults.fail("publish", sns_down())
    relay_change(change(clock, 400), publish, undelivered, clock(), GIVE_UP)

    report = redrive(undelivered, publish, limit=100)

    assert (report.published, report.failed) == (1, 0)
    [message] = publish.published
    assert message.event_id == EVENT_IMAGE["eventId"]
    assert undelivered.entries == {}
    assert redrive(undelivered, publish, limit=100).published == 0  # safe to repeat


def test_a_redrive_that_fails_keeps_the_message() -> None:
    clock, publish, undelivered = ManualClock(), RecordingPublisher(), MemoryUndelivered()
    publish.faults.fail("publish", sns_down(), sns_down())
    relay_change(change(clock, 400), publish, undelivered, clock(), GIVE_UP)
    report = redrive(undelivered, publish, limit=100)
    assert (report.published, report.failed) == (0, 1)
    assert len(undelivered.entries) == 1


def test_a_retry_that_publishes_an_old_change_forgets_a_copy_kept_while_its_answer_was_lost() -> None:
    # Given the relay kept the message (the put landed, its answer was lost), so Lambda retried the record
    clock, publish, undelivered = ManualClock(), RecordingPublisher(), MemoryUndelivered()
    publish.faults.fail("publish", sns_down())
    undelivered.faults.fail("record", LOST)
    with pytest.raises(StorageUnavailable):
        relay_change(change(clock, 400), publish, undelivered, clock(), GIVE_UP)
    assert len(undelivered.entries) == 1

    # When the retry's publish goes through
    assert relay_change(change(clock, 410), publish, undelivered, clock(), GIVE_UP) is RelayOutcome.PUBLISHED

    # Then nothing stays kept: a redrive publishes nothing twice
    assert undelivered.entries == {}
    assert redrive(undelivered, publish, limit=10).published == 0
    assert len(publish.published) == 1


def test_a_young_publish_costs_no_extra_write() -> None:
    clock, publish, undelivered = ManualClock(), RecordingPublisher(), MemoryUndelivered()
    undelivered.faults.fail("remove", RuntimeError("would have been called"))
    relay_change(change(clock, 5), publish, undelivered, clock(), GIVE_UP)
    assert undelivered.faults.fired["remove"] == 0


@pytest.mark.parametrize(
    ("raw", "attribute"),
    [
        ("Tamper\x00Detected", "Tamper\ufffdDetected"),
        ("a\x1bb\x7f", "a\ufffdb\x7f"),
        ("", "\ufffd"),
        ("Ok\tType", "Ok\tType"),
    ],
)
def test_an_open_type_sns_would_refuse_is_made_safe_in_the_attribute_and_kept_raw_in_the_body(
    raw: str, attribute: str
) -> None:
    from bridge.relay import message_for

    message = message_for({**EVENT_IMAGE, "eventType": raw, "sk": 1, "kind": "securityEvent"})
    assert message is not None
    assert message.attributes["type"].value == attribute
    assert message.data["type"] == raw


def test_the_tenants_answer_is_json_in_the_message_and_text_only_when_it_is_not_json() -> None:
    from bridge.relay import tenant_body_fields

    assert tenant_body_fields('{"success": true}') == {"tenantBody": {"success": True}, "tenantBodyText": None}
    assert tenant_body_fields('{"success": tr') == {"tenantBody": None, "tenantBodyText": '{"success": tr'}
    assert tenant_body_fields("<html>502</html>") == {"tenantBody": None, "tenantBodyText": "<html>502</html>"}
    assert tenant_body_fields(None) == {"tenantBody": None, "tenantBodyText": None}
