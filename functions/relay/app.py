"""Stream relay: each new security event and each final start result becomes one SNS message."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge.observability import logger, metrics, tracer
from bridge.publisher import SnsPublisher
from bridge.relay import relay_image
from bridge.settings import relay_settings

settings = relay_settings()
publish = SnsPublisher(
    {"security-events": settings.security_events_topic_arn, "start-results": settings.start_results_topic_arn}
)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    # A failure here marks this record failed; Lambda retries from it, bisecting the batch.
    if record.dynamodb and record.dynamodb.new_image:
        relay_image(record.dynamodb.new_image, publish, record.dynamodb.old_image)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
