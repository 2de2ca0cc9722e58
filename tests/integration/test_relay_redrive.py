"""Finding 11: nothing the relay gives up on is lost; `redrive` and `replay` publish with the same eventIds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from bridge.publisher import SnsPublisher
from bridge.redrive import redrive, replay_security_events, replay_start_results
from bridge.storage.attempts import AttemptTable
from bridge.storage.security_events import SecurityEventTable
from bridge.storage.undelivered import UndeliveredTable
from local.aws import REGION
from local.lambda_runtime import load_function
from tests.harness import Bridge, fault, security_event


@pytest.fixture
def impatient_relay(bridge: Bridge) -> Iterator[None]:
    """The relay gives up at once, as it does once a change is RelayGiveUpSeconds old."""
    relay = load_function(bridge.stack.template, "RelayFunction")
    patience = relay.give_up_after
    relay.give_up_after = timedelta(0)
    yield
    relay.give_up_after = patience


def publisher(bridge: Bridge) -> SnsPublisher:
    refs = bridge.stack.refs
    return SnsPublisher(
        {"security-events": refs["SecurityEventsTopic"], "start-results": refs["StartResultsTopic"]},
        boto3.client("sns", region_name=REGION),
    )


def undelivered(bridge: Bridge) -> UndeliveredTable:
    return UndeliveredTable(bridge.stack.refs["UndeliveredTable"], client=boto3.client("dynamodb", region_name=REGION))


def event_ids(messages: list[dict[str, Any]]) -> list[str]:
    return [json.loads(m["Body"])["eventId"] for m in messages]


def test_a_young_failure_is_retried_and_delivered_once(bridge: Bridge) -> None:
    pushed = bridge.push(3, security_event("TamperDetectionActivated"))
    with fault("sns", "Publish", times=2) as refused:
        assert bridge.pump.poll_once()[1] == 0  # refused: Lambda keeps the record for a retry
        assert bridge.pump.poll_once()[1] == 0
    assert refused.fired == 2
    assert bridge.relay() == 1
    [message] = bridge.queue_messages("CriticalSecurityEventsQueue")
    assert json.loads(message["Body"])["data"]["id"] == pushed.json["ids"][0]
    assert bridge.table_items("UndeliveredTable") == []


def test_a_message_refused_past_the_give_up_age_is_kept_and_redriven_once(
    bridge: Bridge, impatient_relay: None
) -> None:
    # Given SNS refuses the relay's publish past the give-up age
    bridge.push(3, security_event("TamperDetectionActivated"))
    with fault("sns", "Publish") as refused:
        assert bridge.relay() == 1  # the record is done with: its message is kept, not lost
    assert refused.fired == 1
    assert bridge.queue_messages("CriticalSecurityEventsQueue") == []
    [kept] = undelivered(bridge).pending(10)
    assert kept.reason == "InternalServerError"
    assert kept.source.startswith("SecurityEventsTable ")

    # When an operator redrives
    report = redrive(undelivered(bridge), publisher(bridge), limit=100)

    # Then the subscriber gets it once, with the eventId it would have had, and nothing is left to redrive
    assert (report.published, report.failed) == (1, 0)
    assert event_ids(bridge.queue_messages("CriticalSecurityEventsQueue")) == [kept.message.event_id]
    assert bridge.table_items("UndeliveredTable") == []
    assert redrive(undelivered(bridge), publisher(bridge), limit=100).published == 0


def test_a_start_result_refused_past_the_give_up_age_is_redriven_with_its_routing(
    bridge: Bridge, impatient_relay: None
) -> None:
    answer = bridge.request(
        "POST", "/public-api/actions/charge-point/v1.0/12/start/3", body={"idTag": "SIM:PAYMENT_NO_FUNDS"}
    )
    with fault("sns", "Publish") as refused:
        bridge.relay()
    assert refused.fired == 1
    redrive(undelivered(bridge), publisher(bridge), limit=100)
    [billing] = bridge.queue_messages("BillingProblemsQueue")
    assert json.loads(billing["Body"])["eventId"] == answer.headers["x-bridge-attempt-id"]
    assert billing["MessageAttributes"]["errorCode"]["StringValue"] == "PAYMENT_NO_FUNDS"


def test_a_redrive_that_fails_keeps_the_message_for_the_next(bridge: Bridge, impatient_relay: None) -> None:
    bridge.push(3, security_event("TamperDetectionActivated"))
    with fault("sns", "Publish"):
        bridge.relay()
    with fault("sns", "Publish") as still_refused:
        report = redrive(undelivered(bridge), publisher(bridge), limit=100)
    assert still_refused.fired == 1
    assert (report.published, report.failed) == (0, 1)
    assert len(bridge.table_items("UndeliveredTable")) == 1


def test_when_the_redrive_store_fails_too_the_record_is_retried_not_dropped(
    bridge: Bridge, impatient_relay: None
) -> None:
    bridge.push(3, security_event("TamperDetectionActivated"))
    undelivered_table = bridge.stack.refs["UndeliveredTable"]
    with (
        fault("sns", "Publish"),
        fault("dynamodb", "PutItem", lambda p: p.get("TableName") == undelivered_table) as store_refused,
    ):
        assert bridge.pump.poll_once()[1] == 0
    assert store_refused.fired == 1
    assert bridge.relay() == 1  # the next try publishes it
    assert len(bridge.queue_messages("CriticalSecurityEventsQueue")) == 1


def test_replay_publishes_stored_events_and_results_again_with_their_event_ids(bridge: Bridge) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    bridge.push(4, {"events": [security_event("ResetOrReboot"), security_event("FirmwareUpdated")]})
    bridge.notify(
        {
            "notification": "SecurityEventNotification",
            "chargePointId": 4,
            "type": "InvalidFirmwareSignature",
            "timestamp": datetime.now(UTC).isoformat(),
            "critical": False,
        }
    )
    bridge.request("POST", "/public-api/actions/evse/v1.0/5/start", body={"idTag": "FLEET"})
    bridge.relay()
    first = {d["body"]["eventId"] for d in bridge.deliveries.all()}
    bridge.deliveries.clear()
    until = datetime.now(UTC) + timedelta(minutes=1)
    dynamodb = boto3.client("dynamodb", region_name=REGION)

    events = replay_security_events(
        SecurityEventTable(bridge.stack.refs["SecurityEventsTable"], client=dynamodb),
        publisher(bridge),
        since,
        until,
        limit=100,
    )
    results = replay_start_results(
        AttemptTable(bridge.stack.refs["AttemptsTable"], client=dynamodb), publisher(bridge), since, until, limit=100
    )

    assert (events.published, results.published) == (3, 1)
    assert {d["body"]["eventId"] for d in bridge.deliveries.all()} == first
    unlisted = [d for d in bridge.deliveries.all() if d["attributes"].get("type") == "InvalidFirmwareSignature"]
    assert unlisted[0]["attributes"]["critical"] == "false"


def test_a_filtered_replay_reads_through_the_index_and_publishes_whole_events(bridge: Bridge) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    bridge.push(4, security_event("ResetOrReboot"))
    bridge.push(5, security_event("ResetOrReboot"))
    bridge.notify(
        {
            "notification": "SecurityEventNotification",
            "chargePointId": 4,
            "type": "ResetOrReboot",
            "timestamp": datetime.now(UTC).isoformat(),
            "critical": True,
        }
    )
    report = replay_security_events(
        SecurityEventTable(
            bridge.stack.refs["SecurityEventsTable"], client=boto3.client("dynamodb", region_name=REGION)
        ),
        publisher(bridge),
        since,
        datetime.now(UTC) + timedelta(minutes=1),
        charge_point=4,
        limit=100,
    )
    assert report.published == 2
    channels = sorted(d["body"]["data"]["channel"] for d in bridge.deliveries.all())
    assert channels == ["ampeco", "push"]  # whole items, not the index's projection


def test_a_replay_window_is_bounded(bridge: Bridge) -> None:
    table = SecurityEventTable(bridge.stack.refs["SecurityEventsTable"])
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match="at most"):
        replay_security_events(table, publisher(bridge), now - timedelta(days=40), now, limit=10)
    with pytest.raises(ValueError, match="ends before"):
        replay_security_events(table, publisher(bridge), now, now - timedelta(days=1), limit=10)
