"""Attempts whose result was not recorded in the request: deferred completions, then the sweeper."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bridge.error_codes import UPSTREAM_UNKNOWN
from bridge.models.starts import Outcome
from bridge.observability import logger
from bridge.storage.attempts import AttemptConflict, AttemptTable, attempt_from_plain


def apply_deferred(table: AttemptTable, message_body: str) -> None:
    """Record a result the starts function could not; a result already final stays as it is."""
    attempt = attempt_from_plain(json.loads(message_body))
    try:
        table.complete(attempt)
    except AttemptConflict:
        logger.info("deferred result arrived after the attempt was final", extra={"attempt_id": attempt.attempt_id})


def sweep(table: AttemptTable, stuck_after: timedelta, now: datetime | None = None) -> int:
    """Finalise attempts pending longer than any invocation can last as failed / UPSTREAM_UNKNOWN."""
    moment = now or datetime.now(UTC)
    finalised = 0
    for attempt in table.pending_since(moment - stuck_after):
        try:
            table.complete(attempt.completed(outcome=Outcome.FAILED, error_code=UPSTREAM_UNKNOWN, completed_at=moment))
        except AttemptConflict:
            continue  # completed meanwhile
        finalised += 1
        logger.warning("stuck attempt finalised", extra={"attempt_id": attempt.attempt_id})
    return finalised
