"""Stream relay: each new security event and each start result (and correction) becomes one SNS message."""

from __future__ import annotations

from bridge import cold_start  # first: a lean init (see the module), settled on the last line

# isort: split
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge import wiring
from bridge.observability import logger, metrics, tracer
from bridge.relay import RelayOutcome, StoredChange, relay_change

deps = wiring.relay()
give_up_after = timedelta(seconds=deps.settings.relay_give_up_seconds)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    # A failure here marks this record failed; Lambda retries from it, bisecting the batch.
    stream = record.dynamodb
    if not stream or not stream.new_image:
        return
    change = StoredChange(
        new_image=stream.new_image,
        old_image=stream.old_image,
        written_at=datetime.fromtimestamp(float(stream.approximate_creation_date_time or 0), UTC),
        source=_source(record.event_source_arn, stream.keys or {}),
    )
    if relay_change(change, deps.publish, deps.undelivered, deps.clock(), give_up_after) is RelayOutcome.GIVEN_UP:
        metrics.add_metric("UndeliveredMessages", MetricUnit.Count, 1)


def _source(stream_arn: str | None, keys: dict[str, Any]) -> str:
    """`<table> pk=... sk=...`: where an operator finds the item (the ARN is table/<name>/stream/<label>)."""
    parts = (stream_arn or "").split("/")
    table = parts[1] if len(parts) > 1 else "unknown"
    return " ".join([table, *(f"{name}={value}" for name, value in sorted(keys.items()))])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )


cold_start.settle()
