"""Faults after the tenant answered: the answer still goes back, and the result is recorded later."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from bridge.models.starts import Attempt, StartPath, StartTarget
from bridge.storage.attempts import AttemptTable, from_item
from local.aws import REGION
from local.event_sources import sqs_record
from local.lambda_runtime import handler_invoker, make_context
from tests.harness import Bridge, fault

CP_PATH = "/public-api/actions/charge-point/v1.0/12/start/3"


def only_attempt(bridge: Bridge) -> dict[str, Any]:
    [item] = bridge.table_items("AttemptsTable")
    return from_item(item)


def invoke_finaliser(bridge: Bridge, event: dict[str, Any]) -> Any:
    template = bridge.stack.template
    return handler_invoker(template)("FinaliserFunction", event, make_context(template, "FinaliserFunction"))


def test_a_recording_failure_still_returns_the_answer_and_the_finaliser_completes_it(bridge: Bridge) -> None:
    # Given completing the attempt fails after the tenant started a session
    with fault("dynamodb", "UpdateItem") as completion_refused:
        answer = bridge.request("POST", CP_PATH, body={"idTag": "FLEET"})
    assert completion_refused.fired >= 1

    # Then the caller still gets the tenant's answer, and the attempt waits, pending
    assert answer.status == 202
    assert answer.json["success"] is True
    assert only_attempt(bridge)["status"] == "pending"

    # When the finaliser takes the deferred result from the queue
    sqs = boto3.client("sqs", region_name=REGION)
    queued = sqs.receive_message(QueueUrl=bridge.stack.refs["CompletionsQueue"], MaxNumberOfMessages=10)["Messages"]
    event = {"Records": [sqs_record(m, bridge.stack.attrs[("CompletionsQueue", "Arn")]) for m in queued]}
    assert invoke_finaliser(bridge, event) == {"batchItemFailures": []}

    # Then the attempt is final with the tenant's result, and relayed once as started
    attempt = only_attempt(bridge)
    assert (attempt["status"], attempt["outcome"]) == ("final", "started")
    assert attempt["attemptId"] == answer.headers["x-bridge-attempt-id"]
    assert bridge.relay() == 1
    [message] = [d for d in bridge.deliveries.all() if d["topic"] == "start-results"]
    assert message["attributes"]["outcome"] == "started"


def test_a_failed_store_before_the_call_is_503_and_never_reaches_the_tenant(bridge: Bridge, tenant) -> None:
    calls = len(tenant.calls)
    with fault("dynamodb", "PutItem") as store_refused:
        answer = bridge.request("POST", CP_PATH, body={"idTag": "FLEET"})
    assert store_refused.fired >= 1
    assert answer.status == 503
    assert answer.headers["retry-after"]
    assert len(tenant.calls) == calls


def test_the_sweeper_finalises_and_relays_a_stuck_attempt(bridge: Bridge) -> None:
    # Given an attempt whose invocation died after storing it, ten minutes ago, and a fresh one
    table = AttemptTable(bridge.stack.refs["AttemptsTable"])
    stuck = Attempt(
        attempt_id="stuck-1",
        target=StartTarget(StartPath.CHARGE_POINT, charge_point=12, evse_network_id=3),
        request_body="{}",
        request_truncated=False,
        created_at=datetime.now(UTC) - timedelta(minutes=10),
    )
    table.create(stuck)
    fresh = Attempt("fresh-1", stuck.target, "{}", False, datetime.now(UTC))
    table.create(fresh)

    # When the scheduled sweep runs
    result = invoke_finaliser(bridge, {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})

    # Then only the stuck one is finalised as failed / UPSTREAM_UNKNOWN, and relayed
    assert result == {"finalised": 1}
    assert table.get("stuck-1").error_code == "UPSTREAM_UNKNOWN"
    assert table.get("fresh-1").outcome is None
    assert bridge.relay() == 1
    [body] = [json.loads(m["Body"]) for m in bridge.queue_messages("FailedStartsQueue")]
    assert (body["eventId"], body["data"]["errorCode"]) == ("stuck-1", "UPSTREAM_UNKNOWN")
