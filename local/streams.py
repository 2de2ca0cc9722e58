"""DynamoDB Streams -> Lambda, locally: polls moto's streams and invokes functions like event source mappings.

Each read takes a fresh iterator after the last sequence number it saw, on the table's current shard, in one
step under MOTO_LOCK. moto rolls a cancelled TransactWriteItems back by swapping in a copy of the table taken
before it, stream shard included: an iterator kept across passes would stay on the discarded shard, never see
another record, and see the rolled-back writes as if they had happened.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from local.aws import ACCOUNT_ID, MOTO_LOCK, REGION
from local.background import Poller
from local.event_filter import record_matches
from local.lambda_runtime import FakeLambdaContext, make_context
from local.stack import Stack
from local.template import StreamSource, Tag, TemplateModel

log = logging.getLogger(__name__)

StreamInvoke = Callable[[str, dict[str, Any], FakeLambdaContext], Any]


@dataclass
class FailedBatch:
    """Records an event source gave up on; `metadata` is what Lambda sends to the on-failure destination."""

    function: str
    records: list[dict[str, Any]]
    metadata: dict[str, Any]


@dataclass
class _Shard:
    shard_id: str
    last_sequence: str | None = None  # the last record read; None: read from TRIM_HORIZON
    closed: bool = False  # read to its end after a split (real DynamoDB; moto never closes a shard)
    seen: weakref.ref[Any] | None = None  # moto's shard object last read, to notice (and log) a swap
    pending: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0  # consecutive failed invocations of the batch at the head of `pending`


@dataclass
class _Mapping:
    """One event source mapping: its own position in every shard, like Lambda's."""

    source: StreamSource
    stream_arn: str
    on_failure_arn: str | None
    shards: dict[str, _Shard] = field(default_factory=dict)


class StreamPump(Poller):
    """Delivers stream records to functions with Lambda's batching, filtering, partial-batch retries."""

    thread_name = "stream-pump"

    def __init__(self, stack: Stack, template_model: TemplateModel, invoke: StreamInvoke) -> None:
        super().__init__()
        self._template = template_model
        self._invoke = invoke
        # Streams calls otherwise go to an account-specific endpoint that moto does not serve.
        config = Config(account_id_endpoint_mode="disabled")
        self._streams = boto3.client("dynamodbstreams", region_name=REGION, config=config)
        self._sqs = boto3.client("sqs", region_name=REGION)
        self._sns = boto3.client("sns", region_name=REGION)
        self._mappings = [
            _Mapping(source, stack.attrs[(source.table, "StreamArn")], _on_failure_arn(stack, source))
            for source in template_model.stream_sources()
        ]
        self.failed: list[FailedBatch] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ control
    def drain(self, timeout: float = 5.0) -> int:
        """Deliver everything in the streams, including records written by the handlers meanwhile.

        Returns the number of records the functions accepted; TimeoutError if work is still left.
        """
        deadline = time.monotonic() + timeout
        delivered = 0
        while True:
            fetched, accepted = self.poll_once()
            delivered += accepted
            if not fetched and not self.pending():
                return delivered
            if time.monotonic() > deadline:
                raise TimeoutError(f"streams still busy after {timeout} s ({delivered} records delivered)")
            if not fetched:
                time.sleep(0.01)  # only failing records with unlimited retries are left: do not spin

    def poll_once(self) -> tuple[int, int]:
        """One pass over every mapping and shard: (records read from the streams, records accepted)."""
        with self._lock:
            fetched = accepted = 0
            for mapping in self._mappings:
                self._refresh_shards(mapping)
                for shard in mapping.shards.values():
                    fetched += self._fetch(mapping, shard)
                    accepted += self._deliver(mapping, shard)
            return fetched, accepted

    def pending(self) -> int:
        """Records read but not yet accepted or given up on (failing with unlimited retries)."""
        with self._lock:
            return sum(len(s.pending) for m in self._mappings for s in m.shards.values())

    # ------------------------------------------------------------------ reading
    def _refresh_shards(self, mapping: _Mapping) -> None:
        """Pick up new shards; each starts at TRIM_HORIZON (the template's starting position)."""
        kwargs: dict[str, Any] = {"StreamArn": mapping.stream_arn}
        while True:
            description = self._streams.describe_stream(**kwargs)["StreamDescription"]
            for shard in description.get("Shards", []):
                mapping.shards.setdefault(shard["ShardId"], _Shard(shard["ShardId"]))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return
            kwargs["ExclusiveStartShardId"] = last

    def _fetch(self, mapping: _Mapping, shard: _Shard) -> int:
        """Read all available records of a shard into its pending list; filtered-out records are skipped."""
        fetched = 0
        while not shard.closed:
            records = self._read_page(mapping, shard)
            if not records:
                return fetched
            fetched += len(records)
            shard.last_sequence = records[-1]["dynamodb"]["SequenceNumber"]
            for raw in records:
                record = lambda_record(raw, mapping.stream_arn)
                if record_matches(mapping.source.filter_patterns, record):
                    shard.pending.append(record)
        return fetched

    def _read_page(self, mapping: _Mapping, shard: _Shard) -> list[dict[str, Any]]:
        """The records after the last one read, from the shard the table has now."""
        position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
        if shard.last_sequence is not None:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": shard.last_sequence}
        # One step: a rollback between taking the iterator and reading would leave it on the discarded shard.
        with MOTO_LOCK:
            iterator = self._streams.get_shard_iterator(
                StreamArn=mapping.stream_arn, ShardId=shard.shard_id, **position
            )["ShardIterator"]
            page = self._streams.get_records(ShardIterator=iterator)
            self._notice_replacement(mapping, shard)
        _forget_iterator(iterator)
        following = page.get("NextShardIterator")
        _forget_iterator(following)
        shard.closed = following is None  # a closed shard read to its end has no next iterator
        return list(page.get("Records", []))

    def _notice_replacement(self, mapping: _Mapping, shard: _Shard) -> None:
        """Log when moto swapped the table (and its stream) since the last read: the rollback is visible here."""
        current = _moto_stream_shard(mapping.stream_arn)
        if current is None:
            return
        if shard.seen is not None and shard.seen() is not current:
            log.info(
                "stream %s was replaced (moto rolled back a cancelled transaction); reading on after sequence %s",
                _table_name(mapping.stream_arn),
                shard.last_sequence,
            )
        shard.seen = weakref.ref(current)

    # ------------------------------------------------------------------ delivering
    def _deliver(self, mapping: _Mapping, shard: _Shard) -> int:
        """Invoke with batches until the shard's pending records are accepted or given up on.

        A failed batch is retried from its first failed record, at once (Lambda backs off; tests should not
        wait). With unlimited retries (-1) a failure ends the pass, so a poisoned record cannot hold the pump.
        """
        source = mapping.source
        accepted = 0
        while shard.pending:
            batch = shard.pending[: source.batch_size]
            first_failed = self._invoke_batch(source.function, batch)
            done = len(batch) if first_failed is None else first_failed
            accepted += done
            del shard.pending[:done]
            if first_failed is None:
                shard.attempts = 0
                continue
            # Progress made: the retry is a new batch starting at the failed record, on its first failure.
            shard.attempts = 1 if done else shard.attempts + 1
            if source.max_retries < 0:
                break
            if shard.attempts > source.max_retries:
                rest = batch[first_failed:]
                del shard.pending[: len(rest)]
                self._give_up(mapping, shard, rest)
        return accepted

    def _invoke_batch(self, function: str, batch: list[dict[str, Any]]) -> int | None:
        """Index of the first record to retry, or None when the batch succeeded."""
        context = make_context(self._template, function)
        try:
            response = self._invoke(function, {"Records": batch}, context)
        except Exception:
            log.exception("%s failed on a batch of %d stream records", function, len(batch))
            return 0
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        if not failures:
            return None
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        positions = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in sequence_numbers:
                return 0  # Lambda treats an unknown or empty identifier as a failure of the whole batch
            positions.append(sequence_numbers.index(identifier))
        return min(positions)

    def _give_up(self, mapping: _Mapping, shard: _Shard, records: list[dict[str, Any]]) -> None:
        metadata = _failure_metadata(mapping, shard.shard_id, records, shard.attempts)
        shard.attempts = 0
        self.failed.append(FailedBatch(mapping.source.function, records, metadata))
        log.warning("%s gave up on %d stream records", mapping.source.function, len(records))
        arn = mapping.on_failure_arn
        if arn is None:
            return
        body = json.dumps(metadata)
        if arn.startswith("arn:aws:sqs:"):
            url = self._sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
            self._sqs.send_message(QueueUrl=url, MessageBody=body)
        elif arn.startswith("arn:aws:sns:"):
            self._sns.publish(TopicArn=arn, Message=body)


# ---------------------------------------------------------------------- shapes
def lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda delivers it: epoch-second times, base64 binaries, the stream ARN."""
    dynamodb = dict(raw["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    record = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": raw.get("awsRegion", REGION),
        "dynamodb": _jsonable(dynamodb),
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # TTL deletions carry the DynamoDB service as the identity
        record["userIdentity"] = raw["userIdentity"]
    return record


def _jsonable(value: Any) -> Any:
    """boto3 gives B/BS values as bytes; Lambda's JSON carries them base64-encoded."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _failure_metadata(mapping: _Mapping, shard_id: str, records: list[dict[str, Any]], attempts: int) -> dict[str, Any]:
    """Lambda's on-failure record for a stream batch: positions only, never the records themselves."""

    def arrival(record: dict[str, Any]) -> str:
        seconds = float(record["dynamodb"].get("ApproximateCreationDateTime") or time.time())
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    function = mapping.source.function
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": arrival(records[0]),
            "approximateArrivalOfLastRecord": arrival(records[-1]),
            "batchSize": len(records),
            "streamArn": mapping.stream_arn,
        },
    }


def _on_failure_arn(stack: Stack, source: StreamSource) -> str | None:
    """The event source's DestinationConfig.OnFailure target, resolved to an ARN."""
    events = stack.template.functions()[source.function]["Properties"].get("Events", {})
    for event in events.values():
        stream = event["Properties"].get("Stream") if event["Type"] == "DynamoDB" else None
        if isinstance(stream, Tag) and stream.value[0] == source.table:
            destination = event["Properties"].get("DestinationConfig", {}).get("OnFailure", {})
            if "Destination" in destination:
                return str(stack.resolve(destination["Destination"]))
    return None


def _table_name(stream_arn: str) -> str:
    """`arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` -> `<name>`."""
    return stream_arn.split(":", 5)[5].split("/")[1]


def _moto_stream_shard(stream_arn: str) -> Any | None:
    """moto's current shard object for a stream; None when moto is not in this process (server mode)."""
    try:
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[ACCOUNT_ID][REGION].tables[_table_name(stream_arn)].stream_shard
    except (ImportError, AttributeError, KeyError, IndexError):
        return None


def _forget_iterator(iterator: str | None) -> None:
    """Drop a consumed iterator from moto's in-process backend.

    moto stores every iterator it hands out and never expires them (AWS does after 15 minutes), and keeps every
    model it creates in a class-wide list, so a pump polling all day would grow without bound. Best effort:
    absent in server mode or another moto version.
    """
    if iterator is None:
        return
    try:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        shard_iterator = dynamodbstreams_backends[ACCOUNT_ID][REGION].shard_iterators.pop(iterator, None)
        tracked: list[Any] = getattr(type(shard_iterator), "instances_tracked", []) if shard_iterator else []
    except (ImportError, AttributeError, KeyError):
        return
    # Just created, so near the end of the list.
    for index in range(len(tracked) - 1, max(-1, len(tracked) - 64), -1):
        if tracked[index] is shard_iterator:
            del tracked[index]
            return
