"""SQS queues and schedules -> Lambda, locally: the event sources template.yaml declares besides streams.

local/template.py models API and DynamoDB events only; the SQS and Schedule events are read here from the
functions' `Events`, so the template model stays as it is.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import boto3

from local.aws import ACCOUNT_ID, REGION
from local.background import BackgroundWorker, Poller
from local.lambda_runtime import Invoke, make_context
from local.stack import Stack
from local.template import Tag

log = logging.getLogger(__name__)

SQS_MAX_RECEIVE = 10  # ReceiveMessage returns at most 10 messages per call
# The system attributes Lambda passes on in `attributes` (the rest of SQS's stay out of the event).
LAMBDA_SQS_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
)


# ---------------------------------------------------------------------- template
@dataclass(frozen=True)
class SqsSource:
    """An SQS event of a function, with its queue resolved in the local stack."""

    function: str
    event: str
    queue: str  # logical id
    queue_url: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class ScheduleSource:
    """A Schedule event of a function; `period` is None for cron expressions, which run nowhere locally."""

    function: str
    event: str
    expression: str
    period: float | None
    rule_arn: str
    input: dict[str, Any] | None = None  # the event's `Input`: sent instead of the scheduled event

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event}"


def _events(stack: Stack, event_type: str) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(function, event name, properties) of every event of `event_type` that is not disabled."""
    for function, resource in stack.template.functions().items():
        for event, spec in resource["Properties"].get("Events", {}).items():
            if spec["Type"] != event_type:
                continue
            props = dict(spec.get("Properties", {}))
            # SAM: `Enabled: false` on both; Schedule also has `State: DISABLED`.
            if not stack.resolve(props.get("Enabled", True)) or stack.resolve(props.get("State")) == "DISABLED":
                log.info("%s.%s is disabled in the template; not driven locally", function, event)
                continue
            yield function, event, props


def sqs_sources(stack: Stack) -> list[SqsSource]:
    """Every enabled SQS event source of the template."""
    sqs = boto3.client("sqs", region_name=REGION)
    sources = []
    for function, event, props in _events(stack, "SQS"):
        queue, url, arn = _queue(stack, sqs, props["Queue"])
        sources.append(
            SqsSource(
                function=function,
                event=event,
                queue=queue,
                queue_url=url,
                queue_arn=arn,
                batch_size=int(props.get("BatchSize", 10)),
                report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            )
        )
    return sources


def _queue(stack: Stack, sqs: Any, queue: Any) -> tuple[str, str, str]:
    """(logical id, URL, ARN) of an event's `Queue`, normally `!GetAtt X.Arn` of a queue in the stack."""
    if isinstance(queue, Tag) and queue.name == "GetAtt":
        name, attribute = queue.value if isinstance(queue.value, list) else str(queue.value).split(".", 1)
        if attribute == "Arn" and name in stack.refs:
            return name, stack.refs[name], stack.attrs[(name, "Arn")]
    arn = str(stack.resolve(queue))
    for (name, attribute), value in stack.attrs.items():
        if attribute == "Arn" and value == arn and name in stack.refs:
            return name, stack.refs[name], arn
    # A queue the stack does not own (a literal ARN): it must exist in moto under its name.
    queue_name = arn.rsplit(":", 1)[-1]
    return queue_name, str(sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]), arn


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_period(expression: str) -> float | None:
    """Seconds between runs of `rate(...)`; None for `cron(...)`; ValueError for anything else.

    As EventBridge: a positive value, the singular unit for 1 and the plural otherwise.
    """
    text = expression.strip()
    if text.startswith("cron(") and text.endswith(")"):
        return None
    found = _RATE.match(text)
    if not found:
        raise ValueError(f"not a schedule expression: {expression!r}")
    value, unit = int(found.group(1)), found.group(2)
    if value < 1 or unit.endswith("s") != (value > 1):
        raise ValueError(f"invalid rate expression (value and unit disagree): {expression!r}")
    return float(value * _UNIT_SECONDS[unit.removesuffix("s")])


def schedule_sources(stack: Stack) -> list[ScheduleSource]:
    """Every enabled Schedule event source of the template (invalid expressions are logged and left out)."""
    stack_name = str(stack.resolve(Tag("Ref", "AWS::StackName")))
    sources = []
    for function, event, props in _events(stack, "Schedule"):
        expression = str(stack.resolve(props["Schedule"]))
        try:
            period = schedule_period(expression)
        except ValueError:
            log.exception("%s.%s: schedule not driven locally", function, event)
            continue
        # The rule CloudFormation would name (it appends a random suffix, left out here).
        rule = str(stack.resolve(props.get("Name") or f"{stack_name}-{function}{event}"))
        raw_input = stack.resolve(props.get("Input"))
        sources.append(
            ScheduleSource(
                function=function,
                event=event,
                expression=expression,
                period=period,
                rule_arn=f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}",
                input=json.loads(raw_input) if raw_input else None,
            )
        )
    return sources


# ---------------------------------------------------------------------- SQS
class SqsPump(Poller):
    """Polls the template's SQS event sources and invokes their functions like Lambda's SQS poller.

    Successful messages are deleted; failed ones are left to come back after the visibility timeout, and
    moto moves a message to the queue's dead-letter queue on the receive after maxReceiveCount, as SQS does.
    `visibility_timeout` overrides the queue's (tests use 0 to see a failed message again at once).
    """

    thread_name = "sqs-pump"

    def __init__(self, stack: Stack, invoke: Invoke, visibility_timeout: int | None = None) -> None:
        super().__init__()
        self._stack = stack
        self._invoke = invoke
        self._sqs = boto3.client("sqs", region_name=REGION)
        self.sources = sqs_sources(stack)
        self._visibility = {
            source.queue_url: visibility_timeout if visibility_timeout is not None else self._queue_visibility(source)
            for source in self.sources
        }
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ control
    def drain(self, timeout: float = 5.0) -> int:
        """Deliver until a pass deletes nothing: the queues are empty or hold only failing messages.

        Returns the number of messages deleted; TimeoutError if messages were still being deleted.
        """
        deadline = time.monotonic() + timeout
        deleted_total = 0
        while True:
            _, deleted = self.poll_once()
            deleted_total += deleted
            if not deleted:
                return deleted_total
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues still busy after {timeout} s ({deleted_total} messages deleted)")

    def poll_once(self) -> tuple[int, int]:
        """One batch per source: (messages received, messages deleted)."""
        with self._lock:
            received = deleted = 0
            for source in self.sources:
                messages = self._receive(source)
                if messages:
                    received += len(messages)
                    deleted += self._deliver(source, messages)
            return received, deleted

    # ------------------------------------------------------------------ receiving
    def _queue_visibility(self, source: SqsSource) -> int:
        attributes = self._sqs.get_queue_attributes(QueueUrl=source.queue_url, AttributeNames=["VisibilityTimeout"])
        return int(attributes["Attributes"]["VisibilityTimeout"])

    def _receive(self, source: SqsSource) -> list[dict[str, Any]]:
        """Up to BatchSize visible messages (several calls when BatchSize is over SQS's 10)."""
        messages: list[dict[str, Any]] = []
        while len(messages) < source.batch_size:
            got = self._sqs.receive_message(
                QueueUrl=source.queue_url,
                MaxNumberOfMessages=min(SQS_MAX_RECEIVE, source.batch_size - len(messages)),
                VisibilityTimeout=self._visibility[source.queue_url],
                # Never long-poll: moto would wait while holding MOTO_LOCK, stalling every other AWS call.
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages += got
            if len(got) < SQS_MAX_RECEIVE:
                break
        return messages

    # ------------------------------------------------------------------ delivering
    def _deliver(self, source: SqsSource, messages: list[dict[str, Any]]) -> int:
        """Invoke with one batch; delete what succeeded. Returns the number deleted."""
        event = {"Records": [sqs_record(m, source.queue_arn) for m in messages]}
        context = make_context(self._stack.template, source.function)
        try:
            response = self._invoke(source.function, event, context)
        except Exception:
            # A function error returns the whole batch to the queue.
            log.exception("%s failed on a batch of %d SQS messages", source.function, len(messages))
            return 0
        ids = [m["MessageId"] for m in messages]
        failed = _failed_ids(response, ids) if source.report_batch_item_failures else set()
        if failed is None:
            log.warning("%s answered invalid batchItemFailures; the whole batch stays queued", source.function)
            return 0
        if failed:
            log.warning("%s failed %d of %d SQS messages", source.function, len(failed), len(messages))
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), SQS_MAX_RECEIVE):
            chunk = done[start : start + SQS_MAX_RECEIVE]
            answer = self._sqs.delete_message_batch(
                QueueUrl=source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in answer.get("Failed", []):
                log.warning("could not delete an SQS message of %s: %s", source.queue, failure)
        return len(done)


def _failed_ids(response: Any, ids: list[str]) -> set[str] | None:
    """Message ids the function reported as failed; None when the report fails the whole batch.

    As Lambda: no report, or an empty one, is success; an identifier that is empty or not in the batch
    fails the whole batch.
    """
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return set()
    if not isinstance(failures, list):
        return None
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in ids:
            return None
        failed.add(identifier)
    return failed


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A ReceiveMessage message as Lambda puts it in an SQS event record."""
    system = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: system[name] for name in LAMBDA_SQS_ATTRIBUTES if name in system},
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """SQS's PascalCase attribute, camelCase with base64 binaries as in Lambda's event."""

    def b64(data: bytes | str) -> str:
        return base64.b64encode(data.encode() if isinstance(data, str) else data).decode("ascii")

    converted: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [b64(v) for v in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = b64(value["BinaryValue"])
    return converted


# ---------------------------------------------------------------------- schedules
class ScheduleTicker(BackgroundWorker):
    """Invokes each `rate(...)` Schedule event source's function every period, first after one period.

    `speedup` divides the periods (a local run can sweep every second instead of every minute); `periods`
    sets a source's own, by `Function.Event` (the local reconciler runs every 10 s, not every 5 min). Ticks run
    one after another in one thread: a slow invocation delays the next instead of overlapping it, and a
    failed one is logged, not retried (EventBridge invokes asynchronously, with Lambda's retries).
    """

    thread_name = "schedule-ticker"

    def __init__(
        self, stack: Stack, invoke: Invoke, speedup: float = 1.0, periods: Mapping[str, float] | None = None
    ) -> None:
        super().__init__()
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        self._stack = stack
        self._invoke = invoke
        self._speedup = speedup
        self.sources: list[ScheduleSource] = []
        overrides = dict(periods or {})
        for source in schedule_sources(stack):
            if source.name in overrides:
                source = replace(source, period=overrides[source.name])
            if source.period is None:
                log.warning("%s: %s is not supported locally; skipped", source.name, source.expression)
                continue
            self.sources.append(source)
        self._lock = threading.Lock()

    def tick(self) -> dict[str, Any]:
        """Invoke every schedule once now; the functions' results by `Function.Event`. Errors propagate."""
        return {source.name: self.fire(source) for source in self.sources}

    def fire(self, source: ScheduleSource) -> Any:
        """One invocation of a schedule's function with the event EventBridge sends."""
        event = source.input if source.input is not None else scheduled_event(source.rule_arn)
        with self._lock:
            return self._invoke(source.function, event, make_context(self._stack.template, source.function))

    def _should_start(self) -> bool:
        return bool(self.sources)

    def _run(self) -> None:
        periods = {source.name: float(source.period or 0) / self._speedup for source in self.sources}
        due = {source.name: time.monotonic() + periods[source.name] for source in self.sources}
        while True:
            if self._stop.wait(max(0.0, min(due.values()) - time.monotonic())):
                return
            now = time.monotonic()
            for source in self.sources:
                if due[source.name] > now:
                    continue
                try:
                    self.fire(source)
                except Exception:
                    log.exception("%s failed on its scheduled run", source.name)
                # Stay on the period's grid; runs missed while busy are skipped, not caught up.
                while due[source.name] <= time.monotonic():
                    due[source.name] += periods[source.name]


def scheduled_event(rule_arn: str, at: datetime | None = None) -> dict[str, Any]:
    """The event EventBridge sends a function on a schedule."""
    moment = at or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    }
