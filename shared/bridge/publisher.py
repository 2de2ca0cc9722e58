"""SNS publishing: the one module that talks to the topics."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bridge.models.messages import OutboundMessage


@lru_cache(maxsize=1)
def sns_client() -> Any:
    """One SNS client per container, built on first use."""
    import boto3
    from botocore.config import Config

    return boto3.client("sns", config=Config(retries={"mode": "standard", "max_attempts": 3}))


class SnsPublisher:
    """Publishes messages to the topic ARN configured for each topic name."""

    def __init__(self, topic_arns: dict[str, str], client: Any = None) -> None:
        self._topics = topic_arns
        self._client = client

    def __call__(self, message: OutboundMessage) -> None:
        client = self._client or sns_client()
        client.publish(
            TopicArn=self._topics[message.topic],
            Message=message.body(),
            MessageAttributes={
                name: {"DataType": attr.data_type, "StringValue": attr.value}
                for name, attr in message.all_attributes().items()
            },
        )
