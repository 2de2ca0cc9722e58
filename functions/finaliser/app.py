"""Finaliser: applies deferred start writes (SQS) and sweeps attempts left pending (schedule)."""

from __future__ import annotations

from bridge import cold_start  # first: a lean init (see the module), settled on the last line

# isort: split
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge import wiring
from bridge.finaliser import apply_deferred, sweep
from bridge.observability import logger, metrics, tracer

deps = wiring.finaliser()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    apply_deferred(deps.attempts, record.body)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:  # the deferred-writes queue
        return dict(
            process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
        )
    stuck_after = timedelta(seconds=deps.settings.stuck_after_seconds)
    finalised = sweep(deps.attempts, stuck_after, deps.clock())  # the schedule
    metrics.add_metric("StuckAttemptsFinalised", MetricUnit.Count, finalised)
    return {"finalised": finalised}


cold_start.settle()
