"""Attempts whose result was not recorded in the request: deferred writes first, the sweep as a last resort.

The tenant's real answer always wins: a sweep that gave up on an attempt (UPSTREAM_UNKNOWN) is overwritten
when the real result turns up, one revision on, and the relay tells subscribers with a correction.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Protocol

from bridge.error_codes import UPSTREAM_NOT_CALLED, UPSTREAM_UNKNOWN
from bridge.models.starts import Attempt, AttemptState, Outcome, StartAnswer
from bridge.observability import logger
from bridge.storage.attempts import AttemptConflict, attempt_from_plain, attempt_to_plain

COMPLETE = "complete"
ABANDON = "abandon"


class FinalAttempts(Protocol):
    """What the finaliser needs from storage."""

    def complete(self, attempt: Attempt) -> None: ...

    def correct(self, attempt: Attempt, expected_revision: int) -> None: ...

    def abandon(self, attempt_id: str, at: datetime) -> None: ...

    def pending_since(self, before: datetime, limit: int = 100) -> list[Attempt]: ...


# ---------------------------------------------------------------------- the deferral queue's messages
def completion_message(attempt: Attempt) -> str:
    """A result to record later."""
    return json.dumps({"action": COMPLETE, "attempt": attempt_to_plain(attempt)}, separators=(",", ":"))


def abandon_message(attempt_id: str, at: datetime) -> str:
    """An attempt to mark as never sent, later."""
    return json.dumps({"action": ABANDON, "attemptId": attempt_id, "at": at.isoformat()}, separators=(",", ":"))


def apply_deferred(table: FinalAttempts, message_body: str) -> None:
    """Apply one queued write; a repeat of one already applied changes nothing."""
    message: dict[str, Any] = json.loads(message_body)
    if message.get("action") == ABANDON:
        _abandon(table, str(message["attemptId"]), datetime.fromisoformat(str(message["at"])))
    else:
        _complete(table, attempt_from_plain(message["attempt"]))


def _complete(table: FinalAttempts, result: Attempt) -> None:
    try:
        table.complete(result)
        return
    except AttemptConflict as conflict:
        current = conflict.current
    if current is not None and _swept(current):
        _correct(table, current, result)
        return
    if current is not None and current.final and _same_result(current, result):
        return  # the queue delivered this result again
    logger.warning(
        "a result arrived for an attempt that is not pending; the recorded one stays",
        extra={"attempt_id": result.attempt_id, "state": current.state.value if current else "absent"},
    )


def _abandon(table: FinalAttempts, attempt_id: str, at: datetime) -> None:
    try:
        table.abandon(attempt_id, at)
        return
    except AttemptConflict as conflict:
        current = conflict.current
    if current is not None and _swept(current):
        # A sweep reported it UPSTREAM_UNKNOWN; it was never sent: subscribers get that correction.
        never_sent = StartAnswer(503, json.dumps({"message": "Storage is unavailable, retry shortly."}), attempt_id)
        _correct(
            table,
            current,
            current.completed(outcome=Outcome.FAILED, error_code=UPSTREAM_NOT_CALLED, answer=never_sent),
        )


def _correct(table: FinalAttempts, current: Attempt, result: Attempt) -> None:
    corrected = result.completed(
        state=AttemptState.FINAL,
        revision=current.revision + 1,
        corrects=current.event_id,
        completed_at=result.completed_at or current.completed_at,
    )
    table.correct(corrected, expected_revision=current.revision)
    logger.info(
        "a swept attempt got its real result; subscribers get a correction",
        extra={"attempt_id": current.attempt_id, "outcome": str(corrected.outcome), "corrects": current.event_id},
    )


def _swept(attempt: Attempt) -> bool:
    return attempt.final and attempt.error_code == UPSTREAM_UNKNOWN


def _same_result(a: Attempt, b: Attempt) -> bool:
    return (a.outcome, a.error_code, a.session_id) == (b.outcome, b.error_code, b.session_id)


# ---------------------------------------------------------------------- the sweep
def sweep(table: FinalAttempts, stuck_after: timedelta, now: datetime) -> int:
    """Finalise attempts pending longer than any invocation can last as failed / UPSTREAM_UNKNOWN."""
    finalised = 0
    for attempt in table.pending_since(now - stuck_after):
        unknown = attempt.completed(
            state=AttemptState.FINAL,
            revision=1,
            outcome=Outcome.FAILED,
            error_code=UPSTREAM_UNKNOWN,
            completed_at=now,
            answer=StartAnswer(
                502,
                json.dumps({"message": "The start's result is not known.", "errorCode": UPSTREAM_UNKNOWN}),
                attempt.attempt_id,
            ),
        )
        try:
            table.complete(unknown)
        except AttemptConflict:
            continue  # completed meanwhile
        finalised += 1
        logger.warning("stuck attempt finalised as UPSTREAM_UNKNOWN", extra={"attempt_id": attempt.attempt_id})
    return finalised
