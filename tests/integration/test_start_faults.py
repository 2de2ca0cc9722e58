"""Findings 1, 2 and 3 of the exactly-once review, through the real handlers with injected AWS faults.

1. A result that cannot be recorded must never let the same Idempotency-Key reach the tenant twice.
2. The tenant's real answer beats a sweep that gave up on it, and subscribers get a correction.
3. A caller told 503 before the tenant call never has its start reported as failed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.aws import REGION
from local.event_sources import sqs_record
from local.lambda_runtime import handler_invoker, load_function, make_context
from local.tenant_sim import TenantSimulator
from tests.harness import Bridge, fault

START = "/public-api/actions/charge-point/v1.0/12/start/3"


def start(bridge: Bridge, key: str | None = None, id_tag: str = "FLEET") -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return bridge.request("POST", START, body={"idTag": id_tag}, headers=headers)


def on_table(bridge: Bridge, logical_id: str) -> Any:
    name = bridge.stack.refs[logical_id]
    return lambda params: params.get("TableName") == name


def attempts(bridge: Bridge) -> list[dict[str, Any]]:
    from bridge.storage.attempts import from_item

    return [from_item(i) for i in bridge.table_items("AttemptsTable")]


def finaliser(bridge: Bridge, event: dict[str, Any], *, later_by: timedelta = timedelta(0)) -> Any:
    """Invoke the finaliser as Lambda would, with its clock moved on by `later_by`."""
    module = load_function(bridge.stack.template, "FinaliserFunction")
    deps = module.deps
    module.deps = dataclasses.replace(deps, clock=lambda: deps.clock() + later_by)
    try:
        template = bridge.stack.template
        return handler_invoker(template)("FinaliserFunction", event, make_context(template, "FinaliserFunction"))
    finally:
        module.deps = deps


def sweep_later(bridge: Bridge) -> Any:
    return finaliser(bridge, {"source": "aws.events", "detail-type": "Scheduled Event"}, later_by=timedelta(hours=1))


def deferred_writes(bridge: Bridge) -> dict[str, Any]:
    """What the starts function queued for the finaliser, as an SQS event (left on the queue, as Lambda does)."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = bridge.stack.refs["CompletionsQueue"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    return {"Records": [sqs_record(m, bridge.stack.attrs[("CompletionsQueue", "Arn")]) for m in got]}


def start_results(bridge: Bridge) -> list[dict[str, Any]]:
    bridge.relay()
    return [d for d in bridge.deliveries.all() if d["topic"] == "start-results"]


# ---------------------------------------------------------------------- finding 1
def test_a_result_that_cannot_be_recorded_never_lets_the_key_reach_the_tenant_twice(
    bridge: Bridge, tenant: TenantSimulator
) -> None:
    calls = len(tenant.calls)
    # Given recording the result and queueing it both fail after the tenant started a session
    with (
        fault("dynamodb", "UpdateItem", on_table(bridge, "AttemptsTable")) as completion,
        fault("sqs", "SendMessage") as deferral,
    ):
        began = time.monotonic()
        first = start(bridge, key="k-1")
        took = time.monotonic() - began
        # While the attempt is pending, a repeat is 409 and goes nowhere
        repeat = start(bridge, key="k-1")
    assert completion.fired >= 1  # tried again while the answer could wait
    assert deferral.fired == completion.fired
    assert took < 2.5  # the tenant answered at once: recording delays it by 1.5 s at most
    assert (first.status, repeat.status) == (202, 409)
    assert len(tenant.calls) == calls + 1

    # When a sweep gives up on it, a repeat gets the sweep's verdict: still no second call
    assert sweep_later(bridge) == {"finalised": 1}
    again = start(bridge, key="k-1")
    assert (again.status, again.json["errorCode"]) == (502, "UPSTREAM_UNKNOWN")
    assert again.headers["x-bridge-attempt-id"] == first.headers["x-bridge-attempt-id"]
    assert len(tenant.calls) == calls + 1


def test_concurrent_repeats_while_recording_fails_still_reach_the_tenant_once(
    bridge: Bridge, tenant: TenantSimulator
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    calls = len(tenant.calls)
    with (
        fault("dynamodb", "UpdateItem", on_table(bridge, "AttemptsTable")) as completion,
        ThreadPoolExecutor(6) as pool,
    ):
        statuses = sorted(a.status for a in pool.map(lambda _: start(bridge, key="k-par"), range(6)))
    assert completion.fired == 1
    assert statuses.count(202) == 1
    assert set(statuses) <= {202, 409}
    assert len(tenant.calls) == calls + 1


# ---------------------------------------------------------------------- finding 2
def test_the_real_answer_beats_a_sweep_and_subscribers_get_a_correction(bridge: Bridge) -> None:
    # Given a started session whose result could not be recorded, and whose first deferred try failed too
    with fault("dynamodb", "UpdateItem", on_table(bridge, "AttemptsTable"), times=1) as completion:
        answer = start(bridge)
    attempt_id = answer.headers["x-bridge-attempt-id"]
    queued = deferred_writes(bridge)
    with (
        fault("dynamodb", "UpdateItem", on_table(bridge, "AttemptsTable")) as first_try,
        pytest.raises(BatchProcessingError),  # the whole batch failed: Lambda retries it
    ):
        finaliser(bridge, queued)
    assert completion.fired == 1
    assert first_try.fired == 1

    # And a sweep got there first: subscribers were told UPSTREAM_UNKNOWN
    assert sweep_later(bridge) == {"finalised": 1}
    [swept] = start_results(bridge)
    assert (swept["body"]["eventId"], swept["attributes"]["errorCode"]) == (attempt_id, "UPSTREAM_UNKNOWN")

    # When the queue redelivers the real result
    assert finaliser(bridge, queued) == {"batchItemFailures": []}

    # Then the attempt holds it, and a correction with its own eventId names the message it corrects
    [attempt] = attempts(bridge)
    assert (attempt["outcome"], attempt["sessionId"], attempt["revision"]) == (
        "started",
        str(answer.json["sessionId"]),
        2,
    )
    _, correction = start_results(bridge)
    assert correction["attributes"]["correction"] == "true"
    assert correction["attributes"]["outcome"] == "started"
    assert "errorCode" not in correction["attributes"]
    assert correction["body"]["eventId"] not in (attempt_id, "")
    assert correction["body"]["data"]["corrects"] == attempt_id
    # A further redelivery changes nothing and publishes nothing
    assert finaliser(bridge, queued) == {"batchItemFailures": []}
    assert len(start_results(bridge)) == 2


# ---------------------------------------------------------------------- finding 3
def test_a_create_whose_answer_was_lost_goes_ahead_once(bridge: Bridge, tenant: TenantSimulator) -> None:
    calls = len(tenant.calls)
    with fault("dynamodb", "PutItem", on_table(bridge, "AttemptsTable"), kind="answer_lost", times=1) as lost:
        answer = start(bridge)
    assert lost.fired == 1
    assert answer.status == 202
    assert len(tenant.calls) == calls + 1
    [attempt] = attempts(bridge)
    assert (attempt["status"], attempt["outcome"]) == ("final", "started")
    assert [d["attributes"]["outcome"] for d in start_results(bridge)] == ["started"]


def test_a_keyed_create_whose_answer_was_lost_goes_ahead_once(bridge: Bridge, tenant: TenantSimulator) -> None:
    calls = len(tenant.calls)
    with fault("dynamodb", "TransactWriteItems", kind="answer_lost", times=1) as lost:
        answer = start(bridge, key="k-lost")
    assert lost.fired == 1
    assert answer.status == 202
    assert start(bridge, key="k-lost").json == answer.json
    assert len(tenant.calls) == calls + 1


def test_a_503_before_the_tenant_call_is_never_reported_as_a_failed_start(
    bridge: Bridge, tenant: TenantSimulator
) -> None:
    calls = len(tenant.calls)
    # Given the attempt's create lands but its answer is lost, and the repeat of it fails outright
    with (
        fault("dynamodb", "PutItem", on_table(bridge, "AttemptsTable"), kind="answer_lost", times=1) as lost,
        fault("dynamodb", "PutItem", on_table(bridge, "AttemptsTable"), times=1) as refused,
    ):
        answer = start(bridge)

    # Then the caller gets 503, the tenant is never called, and the attempt is marked never sent
    assert lost.fired == 1
    assert refused.fired == 1
    assert answer.status == 503
    assert answer.headers["retry-after"]
    assert len(tenant.calls) == calls
    [attempt] = attempts(bridge)
    assert attempt["status"] == "abandoned"
    # and no sweep ever reports it, nor the relay
    assert sweep_later(bridge) == {"finalised": 0}
    assert start_results(bridge) == []


def test_when_marking_it_fails_too_the_finaliser_marks_it_from_the_queue(bridge: Bridge) -> None:
    with (
        fault("dynamodb", "PutItem", on_table(bridge, "AttemptsTable"), kind="answer_lost", times=1),
        fault("dynamodb", "PutItem", on_table(bridge, "AttemptsTable"), times=1),
        fault("dynamodb", "UpdateItem", on_table(bridge, "AttemptsTable"), times=1) as marking,
    ):
        assert start(bridge).status == 503
    assert marking.fired == 1
    assert [a["status"] for a in attempts(bridge)] == ["pending"]
    assert finaliser(bridge, deferred_writes(bridge)) == {"batchItemFailures": []}
    assert [a["status"] for a in attempts(bridge)] == ["abandoned"]
    assert sweep_later(bridge) == {"finalised": 0}
    assert start_results(bridge) == []


def test_a_keyed_start_told_503_can_be_retried_with_the_same_key(bridge: Bridge, tenant: TenantSimulator) -> None:
    calls = len(tenant.calls)
    with (
        fault("dynamodb", "TransactWriteItems", kind="answer_lost", times=1),
        fault("dynamodb", "TransactWriteItems", times=1) as refused,
    ):
        assert start(bridge, key="k-503").status == 503
    assert refused.fired == 1
    retried = start(bridge, key="k-503")
    assert retried.status == 202
    assert len(tenant.calls) == calls + 1
    assert sorted(a["status"] for a in attempts(bridge)) == ["abandoned", "final"]


def test_the_queued_messages_name_their_action(bridge: Bridge) -> None:
    with fault("dynamodb", "UpdateItem", on_table(bridge, "AttemptsTable"), times=1):
        start(bridge)
    [record] = deferred_writes(bridge)["Records"]
    assert json.loads(record["body"])["action"] == "complete"
