"""Messages the relay gave up on: kept, exactly as they would have been published, for an operator's redrive.

One item per message (`pk = "UNDELIVERED"`, `eventId`): recording the same message twice keeps one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.models.common import iso_instant
from bridge.models.messages import Attribute, OutboundMessage
from bridge.storage.dynamo import Table, query_items, storage_errors

PARTITION = "UNDELIVERED"


@dataclass(frozen=True)
class Undelivered:
    """A message the relay could not publish, and why."""

    message: OutboundMessage
    source: str  # the stored item it was made from: table and key
    reason: str
    given_up_at: datetime


class UndeliveredTable(Table):
    """Records, lists and clears messages awaiting a redrive."""

    def record(self, entry: Undelivered) -> None:
        """Keep a message for redrive (the same eventId again overwrites it)."""
        message = entry.message
        attributes = {name: [a.data_type, a.value] for name, a in message.attributes.items()}
        with storage_errors():
            self.client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": PARTITION},
                    "eventId": {"S": message.event_id},
                    "topic": {"S": message.topic},
                    "body": {"S": message.body()},
                    "attributes": {"S": json.dumps(attributes, separators=(",", ":"))},
                    "source": {"S": entry.source},
                    "reason": {"S": entry.reason},
                    "givenUpAt": {"S": iso_instant(entry.given_up_at)},
                },
            )

    def pending(self, limit: int) -> list[Undelivered]:
        """Up to `limit` recorded messages: one Query on the partition."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": PARTITION}},
        }
        items = query_items(self.client, request, limit)
        return [_from_item(item) for item in items]

    def remove(self, event_id: str) -> None:
        """Forget a message once it is published."""
        with storage_errors():
            self.client.delete_item(TableName=self._table, Key={"pk": {"S": PARTITION}, "eventId": {"S": event_id}})


def _from_item(item: dict[str, Any]) -> Undelivered:
    attributes = {
        name: Attribute(value, data_type) for name, (data_type, value) in json.loads(item["attributes"]["S"]).items()
    }
    return Undelivered(
        message=OutboundMessage.from_envelope(item["topic"]["S"], item["body"]["S"], attributes),
        source=item["source"]["S"],
        reason=item["reason"]["S"],
        given_up_at=datetime.fromisoformat(item["givenUpAt"]["S"]),
    )
