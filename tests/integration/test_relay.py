"""The stream relay: one message per stored event, stable eventId, partial batch failures."""

from __future__ import annotations

import json
from typing import Any

import boto3

from local.aws import REGION
from local.lambda_runtime import handler_invoker, make_context
from local.streams import lambda_record
from tests.harness import Bridge, security_event


def stream_event(bridge: Bridge) -> dict[str, Any]:
    """Every record currently in the security-events stream, shaped as Lambda sends them."""
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = bridge.stack.attrs[("SecurityEventsTable", "StreamArn")]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    return {"Records": [lambda_record(r, arn) for r in records]}


def invoke_relay(bridge: Bridge, event: dict[str, Any]) -> dict[str, Any]:
    template = bridge.stack.template
    return handler_invoker(template)("RelayFunction", event, make_context(template, "RelayFunction"))


def published(bridge: Bridge) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in bridge.queue_messages("CriticalSecurityEventsQueue")]


def test_a_redelivered_batch_publishes_the_same_event_ids(bridge: Bridge) -> None:
    bridge.push(1, {"events": [security_event("FirmwareUpdated"), security_event("ResetOrReboot")]})
    event = stream_event(bridge)

    assert invoke_relay(bridge, event) == {"batchItemFailures": []}
    first = published(bridge)
    assert invoke_relay(bridge, event) == {"batchItemFailures": []}
    second = published(bridge)

    assert len(first) == 2
    assert sorted(m["eventId"] for m in first) == sorted(m["eventId"] for m in second)


def test_a_record_that_cannot_be_relayed_is_reported_alone(bridge: Bridge) -> None:
    bridge.push(1, {"events": [security_event("FirmwareUpdated"), security_event("ResetOrReboot")]})
    event = stream_event(bridge)
    broken = event["Records"][0]
    del broken["dynamodb"]["NewImage"]["eventType"]

    answer = invoke_relay(bridge, event)

    assert answer == {"batchItemFailures": [{"itemIdentifier": broken["dynamodb"]["SequenceNumber"]}]}
    assert len(published(bridge)) == 1


def test_notification_records_are_not_relayed(bridge: Bridge) -> None:
    bridge.notify({"notification": "BootNotification"})
    event = stream_event(bridge)
    assert len(event["Records"]) == 1
    assert invoke_relay(bridge, event) == {"batchItemFailures": []}
    assert published(bridge) == []


def test_the_template_filter_keeps_notification_records_from_the_relay(bridge: Bridge) -> None:
    bridge.notify({"notification": "BootNotification"})
    assert bridge.relay() == 0
    assert bridge.pump.failed == []
