"""Small in-memory fakes of the bridge's ports, with the same conditional semantics as the real adapters.

Each fake can be told to fail its next calls, before or after the write takes effect ("answer lost"), so
domain logic can be tested against every fault between two steps without AWS.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.errors import StorageUnavailable
from bridge.models.messages import OutboundMessage
from bridge.models.starts import Attempt, AttemptState, StartPath, StartTarget
from bridge.storage.attempts import AttemptConflict, KeyClaim, KeyHeld
from bridge.storage.undelivered import Undelivered

LOST = "answer lost"  # the write lands, then its answer never reaches the caller


class Faults:
    """Queued failures per operation: an exception raised before the effect, or LOST after it."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Exception | str]] = defaultdict(deque)
        self.fired: dict[str, int] = defaultdict(int)

    def fail(self, operation: str, *failures: Exception | str) -> None:
        self._queued[operation].extend(failures)

    def before(self, operation: str) -> bool:
        """Raise a queued failure now; True when the call's answer is to be lost after it takes effect."""
        queue = self._queued[operation]
        if not queue:
            return False
        failure = queue.popleft()
        self.fired[operation] += 1
        if isinstance(failure, Exception):
            raise failure
        return True


def lost() -> StorageUnavailable:
    return StorageUnavailable("Storage is unavailable, retry shortly.", uncertain=True)


class MemoryAttempts:
    """AttemptTable's behaviour: conditional creates with key claims, state-checked completion."""

    def __init__(self) -> None:
        self.attempts: dict[str, Attempt] = {}
        self.claims: dict[str, tuple[str, str, int]] = {}  # key id -> (attempt id, body hash, expires at)
        self.faults = Faults()

    def create(self, attempt: Attempt, claim: KeyClaim | None = None, *, now: int = 0) -> None:
        lose = self.faults.before("create")
        if attempt.attempt_id in self.attempts:
            return  # an earlier try landed (or a tombstone is there: the write is refused, quietly)
        if claim is not None:
            held = self.claims.get(claim.key_id)
            if held and held[2] >= now and held[0] != claim.taking_over:
                if held[0] == attempt.attempt_id:
                    return
                raise KeyHeld(held[0], held[1])
            self.claims[claim.key_id] = (attempt.attempt_id, claim.body_hash, claim.expires_at)
        self.attempts[attempt.attempt_id] = attempt
        if lose:
            raise lost()

    def complete(self, attempt: Attempt) -> None:
        lose = self.faults.before("complete")
        current = self.attempts.get(attempt.attempt_id)
        if current is None or current.state is not AttemptState.PENDING:
            raise AttemptConflict(attempt.attempt_id, current)
        self.attempts[attempt.attempt_id] = attempt
        if lose:
            raise lost()

    def correct(self, attempt: Attempt, expected_revision: int) -> None:
        self.faults.before("correct")
        current = self.attempts.get(attempt.attempt_id)
        if current is None or not current.final or current.revision != expected_revision:
            raise AttemptConflict(attempt.attempt_id, current)
        self.attempts[attempt.attempt_id] = attempt

    def abandon(self, attempt_id: str, at: datetime) -> None:
        lose = self.faults.before("abandon")
        current = self.attempts.get(attempt_id)
        if current is not None and current.state is not AttemptState.PENDING:
            raise AttemptConflict(attempt_id, current)
        self.attempts[attempt_id] = dataclasses.replace(
            current or Attempt(attempt_id, StartTarget(StartPath.EVSE), "", False, at), state=AttemptState.ABANDONED
        )
        if lose:
            raise lost()

    def get(self, attempt_id: str) -> Attempt | None:
        self.faults.before("get")
        return self.attempts.get(attempt_id)

    def pending_since(self, before: datetime, limit: int = 100) -> list[Attempt]:
        pending = [a for a in self.attempts.values() if a.state is AttemptState.PENDING and a.created_at < before]
        return sorted(pending, key=lambda a: a.created_at)[:limit]


@dataclass
class TenantReply:
    status: int
    body: bytes
    retry_after: str | None = None


@dataclass
class ScriptedTenant:
    """Answers each call with the next scripted reply (the last one repeats); counts calls."""

    replies: list[TenantReply | Exception] = field(
        default_factory=lambda: [TenantReply(202, b'{"success":true,"sessionId":1,"authorizationId":2}')]
    )
    calls: list[tuple[str, bytes]] = field(default_factory=list)

    def post_json(self, path: str, body: bytes) -> TenantReply:
        self.calls.append((path, body))
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        if isinstance(reply, Exception):
            raise reply
        return reply


@dataclass
class MemoryDeferrals:
    """The deferral queue: what would be applied later."""

    completed: list[Attempt] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)

    def complete_later(self, attempt: Attempt) -> None:
        self.faults.before("complete_later")
        self.completed.append(attempt)

    def abandon_later(self, attempt_id: str, at: datetime) -> None:
        self.faults.before("abandon_later")
        self.abandoned.append(attempt_id)


@dataclass
class ManualClock:
    """A clock the test moves."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 30, 10, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class RecordingPublisher:
    """SNS: the messages published, in order; `faults.fail("publish", exc)` makes the next publish fail."""

    published: list[OutboundMessage] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)

    def __call__(self, message: OutboundMessage) -> None:
        self.faults.before("publish")
        self.published.append(message)


@dataclass
class MemoryUndelivered:
    """The redrive store."""

    entries: dict[str, Undelivered] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)

    def record(self, entry: Undelivered) -> None:
        lose = self.faults.before("record")
        self.entries[entry.message.event_id] = entry
        if lose:
            raise lost()

    def pending(self, limit: int) -> list[Undelivered]:
        return list(self.entries.values())[:limit]

    def remove(self, event_id: str) -> None:
        self.faults.before("remove")
        self.entries.pop(event_id, None)


def plain(**fields: Any) -> dict[str, Any]:
    """Keyword arguments as a dict (readable test tables)."""
    return fields
