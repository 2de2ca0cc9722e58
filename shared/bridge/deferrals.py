"""The deferral queue: writes the starts function could not make now, applied later by the finaliser."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bridge.finaliser import abandon_message, completion_message
from bridge.models.starts import Attempt


class QueuedDeferrals:
    """Sends each deferred write as one SQS message."""

    def __init__(self, queue_url: str, client: Any) -> None:
        self._queue_url = queue_url
        self._client = client

    def complete_later(self, attempt: Attempt) -> None:
        """The attempt's result, to record."""
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=completion_message(attempt))

    def abandon_later(self, attempt_id: str, at: datetime) -> None:
        """An attempt never sent to the tenant, to mark."""
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=abandon_message(attempt_id, at))
