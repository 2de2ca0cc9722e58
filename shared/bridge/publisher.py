"""SNS publishing: the one module that talks to the topics."""

from __future__ import annotations

from typing import Any

from bridge.models.messages import OutboundMessage


class SnsPublisher:
    """Publishes messages to the topic ARN configured for each topic name."""

    def __init__(self, topic_arns: dict[str, str], client: Any) -> None:
        self._topics = topic_arns
        self._client = client

    def __call__(self, message: OutboundMessage) -> None:
        self._client.publish(
            TopicArn=self._topics[message.topic],
            Message=message.body(),
            MessageAttributes={
                name: {"DataType": attr.data_type, "StringValue": attr.value}
                for name, attr in message.all_attributes().items()
            },
        )
