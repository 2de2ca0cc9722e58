"""The local run's SQS and Schedule event sources drive the finaliser as Lambda and EventBridge would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from bridge.finaliser import completion_message
from bridge.models.starts import Attempt, Outcome, StartPath, StartTarget
from bridge.storage.attempts import AttemptTable
from local.aws import ACCOUNT_ID, REGION
from local.event_sources import ScheduleTicker, SqsPump, schedule_period
from local.lambda_runtime import FakeLambdaContext, handler_invoker
from tests.harness import Bridge

TARGET = StartTarget(StartPath.CHARGE_POINT, charge_point=12, evse_network_id=3)


@dataclass
class Recorder:
    """The real handlers, with every invocation's event and result kept for the assertions."""

    invoke: Callable[[str, dict[str, Any], FakeLambdaContext], Any]
    calls: list[tuple[str, dict[str, Any], Any]] = field(default_factory=list)  # a raised exception as result
    called: threading.Event = field(default_factory=threading.Event)

    def __call__(self, function: str, event: dict[str, Any], context: FakeLambdaContext) -> Any:
        try:
            result = self.invoke(function, event, context)
        except Exception as exc:
            self.calls.append((function, event, exc))
            raise
        self.calls.append((function, event, result))
        self.called.set()
        return result


@pytest.fixture
def recorder(bridge: Bridge) -> Recorder:
    return Recorder(handler_invoker(bridge.stack.template))


@pytest.fixture
def sqs() -> Any:
    return boto3.client("sqs", region_name=REGION)


def pending_attempt(bridge: Bridge, attempt_id: str, age: timedelta = timedelta(0)) -> Attempt:
    attempt = Attempt(attempt_id, TARGET, "{}", False, datetime.now(UTC) - age)
    AttemptTable(bridge.stack.refs["AttemptsTable"]).create(attempt)
    return attempt


def deferred_completion(attempt: Attempt) -> str:
    """The message the starts function queues when it cannot record a result."""
    return completion_message(attempt.completed(outcome=Outcome.STARTED, session_id="77", tenant_status=201))


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


def test_a_deferred_completion_on_the_queue_finalises_the_attempt(bridge: Bridge, recorder: Recorder, sqs: Any) -> None:
    # Given a pending attempt and its deferred result on the completions queue
    attempt = pending_attempt(bridge, "deferred-1")
    url = bridge.stack.refs["CompletionsQueue"]
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=deferred_completion(attempt),
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "starts"}},
    )

    # When the pump drains the queue
    assert SqsPump(bridge.stack, recorder).drain(timeout=5) == 1

    # Then the finaliser got Lambda's SQS event, recorded the result, and the message is gone
    [(function, event, result)] = recorder.calls
    assert function == "FinaliserFunction"
    assert result == {"batchItemFailures": []}
    [record] = event["Records"]
    assert record["messageId"] == sent["MessageId"]
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", REGION)
    assert record["eventSourceARN"] == bridge.stack.attrs[("CompletionsQueue", "Arn")]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["origin"] == {
        "stringValue": "starts",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    stored = AttemptTable(bridge.stack.refs["AttemptsTable"]).get("deferred-1")
    assert stored is not None
    assert (stored.final, stored.outcome, stored.session_id) == (True, Outcome.STARTED, "77")
    assert queue_counts(sqs, url) == (0, 0)


def test_a_poison_message_is_a_batch_item_failure_and_stays_queued_until_redriven(
    bridge: Bridge, recorder: Recorder, sqs: Any
) -> None:
    # Given a good deferred result and a message that is not JSON, in one batch
    url = bridge.stack.refs["CompletionsQueue"]
    good = pending_attempt(bridge, "deferred-2")
    sqs.send_message(QueueUrl=url, MessageBody=deferred_completion(good))
    poison_id = sqs.send_message(QueueUrl=url, MessageBody="{not json")["MessageId"]
    # Visibility 0: a failed message is visible again at once, so redrive needs no waiting.
    pump = SqsPump(bridge.stack, recorder, visibility_timeout=0)

    # When the pump drains the queue
    assert pump.drain(timeout=5) == 1

    # Then only the poison message is reported failed, and only it is left in the queue
    assert recorder.calls[0][2] == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    stored = AttemptTable(bridge.stack.refs["AttemptsTable"]).get("deferred-2")
    assert stored is not None
    assert stored.final
    assert queue_counts(sqs, url) == (1, 0)

    # When it keeps failing (alone, the handler raises: the whole batch fails, nothing is deleted)
    for _ in range(10):
        if queue_counts(sqs, url) == (0, 0):
            break
        assert pump.drain(timeout=5) == 0

    # Then it was delivered maxReceiveCount (5) times, and moto then moved it to the dead-letter queue as SQS does
    assert all(isinstance(result, Exception) for _, _, result in recorder.calls[1:])
    receive_counts = [
        record["attributes"]["ApproximateReceiveCount"]
        for _, event, _ in recorder.calls
        for record in event["Records"]
        if record["messageId"] == poison_id
    ]
    assert receive_counts == ["1", "2", "3", "4", "5"]
    [dead] = sqs.receive_message(QueueUrl=bridge.stack.refs["CompletionsDlq"]).get("Messages", [])
    assert (dead["MessageId"], dead["Body"]) == (poison_id, "{not json")


def test_an_unknown_batch_item_failure_keeps_the_whole_batch(bridge: Bridge, sqs: Any) -> None:
    url = bridge.stack.refs["CompletionsQueue"]
    sqs.send_message(QueueUrl=url, MessageBody="{}")

    def answer_unknown(_function: str, _event: dict[str, Any], _context: FakeLambdaContext) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": "not-in-the-batch"}]}

    assert SqsPump(bridge.stack, answer_unknown).drain(timeout=5) == 0
    assert queue_counts(sqs, url) == (0, 1)  # in flight until the queue's visibility timeout


def test_the_pump_thread_delivers_what_arrives(bridge: Bridge, recorder: Recorder, sqs: Any) -> None:
    attempt = pending_attempt(bridge, "deferred-3")
    pump = SqsPump(bridge.stack, recorder)
    pump.start()
    try:
        sqs.send_message(QueueUrl=bridge.stack.refs["CompletionsQueue"], MessageBody=deferred_completion(attempt))
        assert recorder.called.wait(timeout=5)
    finally:
        pump.stop()
    stored = AttemptTable(bridge.stack.refs["AttemptsTable"]).get("deferred-3")
    assert stored is not None
    assert stored.final


def test_a_tick_sweeps_a_stuck_attempt_with_a_scheduled_event(bridge: Bridge, recorder: Recorder) -> None:
    # Given an attempt stuck past STUCK_AFTER_SECONDS (180) and a fresh one
    pending_attempt(bridge, "stuck-1", age=timedelta(minutes=5))
    pending_attempt(bridge, "fresh-1")

    # When the schedule ticks
    ticker = ScheduleTicker(bridge.stack, recorder)
    assert {source.name for source in ticker.sources} == {"FinaliserFunction.Sweep", "ReconcilerFunction.Schedule"}
    [sweep] = [source for source in ticker.sources if source.function == "FinaliserFunction"]
    assert ticker.fire(sweep) == {"finalised": 1}

    # Then the finaliser got EventBridge's scheduled event and finalised only the stuck attempt
    [(function, event, _)] = recorder.calls
    assert function == "FinaliserFunction"
    assert event["detail-type"] == "Scheduled Event"
    assert (event["source"], event["account"], event["region"], event["detail"]) == (
        "aws.events",
        ACCOUNT_ID,
        REGION,
        {},
    )
    [rule] = event["resources"]
    assert rule.startswith(f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/")
    table = AttemptTable(bridge.stack.refs["AttemptsTable"])
    stuck, fresh = table.get("stuck-1"), table.get("fresh-1")
    assert stuck is not None
    assert fresh is not None
    assert (stuck.outcome, stuck.error_code) == (Outcome.FAILED, "UPSTREAM_UNKNOWN")
    assert fresh.outcome is None


def test_the_ticker_thread_runs_after_one_period(bridge: Bridge, recorder: Recorder) -> None:
    ticker = ScheduleTicker(bridge.stack, recorder, speedup=600)  # rate(1 minute) -> every 0.1 s
    started = time.monotonic()
    ticker.start()
    try:
        assert recorder.called.wait(timeout=5)
    finally:
        ticker.stop()
    assert time.monotonic() - started >= 0.1
    assert recorder.calls[0][2] == {"finalised": 0}


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60.0),
        ("rate(5 minutes)", 300.0),
        ("rate(1 hour)", 3600.0),
        ("rate(2 days)", 172800.0),
        ("cron(0 12 * * ? *)", None),
    ],
)
def test_schedule_expressions(expression: str, seconds: float | None) -> None:
    assert schedule_period(expression) == seconds


@pytest.mark.parametrize("expression", ["rate(1 minutes)", "rate(2 minute)", "rate(0 minutes)", "every minute"])
def test_invalid_schedule_expressions(expression: str) -> None:
    with pytest.raises(ValueError, match="expression"):
        schedule_period(expression)
