"""Ambiguous starts resolved: a start that timed out (or was swept) whose session turned up after all.

A start is ambiguous when the tenant may have started a session nobody was told of: `UPSTREAM_TIMEOUT`, or
the sweeper's `UPSTREAM_UNKNOWN`. It is matched to a session that started within its window on the same
target (the charge point on the charge-point path, whose EVSE network id a session does not carry; the
EVSE on the EVSE path) with the same `idTag` when the request had one. Money is involved, so a match must
be unique both ways: exactly one unclaimed session for the attempt and exactly one ambiguous attempt for the
session; anything else is left for an operator (logged). The attempt then becomes `started` with that
`sessionId`, one revision on, which the relay publishes as a correction.

This runs when a session is first stored from its notification, and on every session of the reconciler's
listing: the fallback for a session whose notification came while its start was still pending (the
tenant answered after the deadline), or whose resolution failed. No boto3, no event shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bridge.models.sessions import Session
from bridge.models.starts import Attempt, AttemptState, Outcome, StartPath, charge_point_key, evse_key
from bridge.observability import logger
from bridge.storage.attempts import AttemptConflict

# The tenant's clock may run ahead of ours, and a session may be recorded a moment before the request was.
WINDOW_BEFORE = timedelta(seconds=60)
# A charger can take minutes to report the transaction it started on the tenant's remote start.
WINDOW_AFTER = timedelta(minutes=5)
CANDIDATES = 50  # starts read on one target in one window: a busy EVSE has a handful


class AmbiguousAttempts(Protocol):
    """What resolution needs from the attempts table."""

    def on_target(self, target: str, since: datetime, until: datetime, limit: int) -> list[Attempt]: ...

    def correct(self, attempt: Attempt, expected_revision: int) -> None: ...


class StartedSessions(Protocol):
    """What resolution needs from the sessions table."""

    def started_between(
        self, since: datetime, until: datetime, *, charge_point: int | None = None, evse: int | None = None
    ) -> list[Session]: ...


@dataclass(frozen=True)
class Resolver:
    attempts: AmbiguousAttempts
    sessions: StartedSessions

    def for_session(self, session: Session) -> Attempt | None:
        """Resolve the ambiguous start this session answers, when the match is unique both ways."""
        candidates = self._attempts_for(session)
        if len(candidates) != 1:
            if candidates:
                _unresolved("several ambiguous starts match one session", session.id, candidates)
            return None
        attempt = candidates[0]
        sessions = self._sessions_for(attempt, session)
        if [s.id for s in sessions] != [session.id]:
            if sessions:
                _unresolved("several sessions match one ambiguous start", attempt.attempt_id, sessions)
            return None
        return self._resolve(attempt, session)

    def _attempts_for(self, session: Session) -> list[Attempt]:
        return [a for a in self._starts_near(session) if a.ambiguous and matches(a, session)]

    def _starts_near(self, session: Session) -> list[Attempt]:
        """Every start that could have caused this session: on its charge point or its EVSE, in the window."""
        since, until = session.started_at - WINDOW_AFTER, session.started_at + WINDOW_BEFORE
        return [
            attempt
            for target in (charge_point_key(session.charge_point), evse_key(session.evse))
            for attempt in self.attempts.on_target(target, since, until, CANDIDATES)
        ]

    def _sessions_for(self, attempt: Attempt, known: Session) -> list[Session]:
        """Unclaimed sessions matching the attempt; `known` counts even if the index has not caught up with it."""
        since, until = window(attempt)
        target = attempt.target
        if target.path is StartPath.CHARGE_POINT:
            stored = self.sessions.started_between(since, until, charge_point=target.charge_point)
        else:
            stored = self.sessions.started_between(since, until, evse=target.evse_id)
        found = {s.id: s for s in stored} | {known.id: known}
        return [s for s in found.values() if matches(attempt, s) and not self._claimed_by_other(s, attempt)]

    def _claimed_by_other(self, session: Session, attempt: Attempt) -> bool:
        # A start that claimed this session was asked for its charge point or EVSE within its window.
        return any(
            other.session_id == session.id and other.attempt_id != attempt.attempt_id
            for other in self._starts_near(session)
        )

    def _resolve(self, attempt: Attempt, session: Session) -> Attempt | None:
        resolved = attempt.completed(
            state=AttemptState.FINAL,
            outcome=Outcome.STARTED,
            error_code=None,
            session_id=session.id,
            authorization_id=_authorization_id(session),
            revision=attempt.revision + 1,
            corrects=attempt.event_id,
        )
        try:
            self.attempts.correct(resolved, expected_revision=attempt.revision)
        except AttemptConflict:
            return None  # resolved (or corrected) meanwhile: that write stands
        logger.info(
            "an ambiguous start found its session; subscribers get a correction",
            extra={
                "attempt_id": attempt.attempt_id,
                "session_id": session.id,
                "was": attempt.error_code,
                "corrects": attempt.event_id,
            },
        )
        return resolved


def window(attempt: Attempt) -> tuple[datetime, datetime]:
    """When a session this start caused can have started."""
    return attempt.created_at - WINDOW_BEFORE, attempt.created_at + WINDOW_AFTER


def matches(attempt: Attempt, session: Session) -> bool:
    """Same target, within the attempt's window, and the same idTag when the request had one."""
    since, until = window(attempt)
    if not since <= session.started_at <= until:
        return False
    target = attempt.target
    if target.path is StartPath.CHARGE_POINT:
        if session.charge_point != target.charge_point:
            return False
    elif session.evse != target.evse_id:
        return False
    requested = attempt.requested_id_tag
    return requested is None or session.id_tag == requested


def _authorization_id(session: Session) -> str | None:
    value = session.document.get("authorizationId")
    return None if value is None else str(value)


def _unresolved(why: str, subject: str, candidates: list[Attempt] | list[Session]) -> None:
    ids = [c.attempt_id if isinstance(c, Attempt) else c.id for c in candidates]
    logger.warning("ambiguous start left for an operator: " + why, extra={"subject": subject, "candidates": ids})
