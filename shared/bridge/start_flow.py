"""A start, at most once: store the attempt (and claim its Idempotency-Key), call the tenant once, record.

No boto3 and no event shapes here: storage, the tenant, the deferral queue and the clock are ports.

Every step is designed for the fault that hits between two steps:
- the attempt (with the key's claim) is written before the tenant is called; a repeat with the same key
  finds it, so the tenant is called at most once per key whatever fails later;
- a create whose answer was lost is repeated (the write is conditional: it lands now, or finds it landed);
  when that fails too, the caller gets 503 and the attempt is marked abandoned, so it is never reported
  as a failed start;
- once the tenant has answered, the caller gets that answer even when recording it fails: the result goes
  to the deferral queue, both are tried again while the caller's answer may still wait (the deadline + 2 s),
  and a sweep is the last resort.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from bridge.error_codes import UNSPECIFIED_REJECTION, ErrorCode
from bridge.errors import Conflict, InvalidInput, StorageUnavailable, Throttled, UpstreamError
from bridge.models.starts import Attempt, AttemptState, Outcome, StartAnswer, StartTarget
from bridge.observability import logger
from bridge.starts import cap, classify, upstream_answer
from bridge.storage.attempts import AttemptConflict, KeyClaim, KeyHeld

KEY_SECONDS = 3600  # an Idempotency-Key is bound to its first start for an hour
MAX_CLAIM_ROUNDS = 3  # taking over a released key can race another repeat; a few rounds settle it
WRITE_SECONDS = 0.8  # the longest one fail-fast write can take (aws.QUICK: 0.3 s connect + 0.5 s read)
RECORD_SECONDS = 1.5  # how long recording may delay the tenant's answer (the contract allows 2 s)
RETRY_PAUSE_SECONDS = 0.1
# The `errorCode` dimension of the StartResults metric takes a bounded set of values: AMPECO's 21 codes and
# UNSPECIFIED_REJECTION for rejections (any other code a tenant sends counts as OTHER), the bridge's own
# UPSTREAM_* codes for failures, and `none` for a started session.
REJECTION_CODES = frozenset({*ErrorCode, UNSPECIFIED_REJECTION})


class AttemptStore(Protocol):
    """What a start needs from storage."""

    def create(self, attempt: Attempt, claim: KeyClaim | None = None, *, now: int = 0) -> None: ...

    def complete(self, attempt: Attempt) -> None: ...

    def abandon(self, attempt_id: str, at: datetime) -> None: ...

    def get(self, attempt_id: str) -> Attempt | None: ...


class Tenant(Protocol):
    """The operator's AMPECO tenant."""

    def post_json(self, path: str, body: bytes) -> Any: ...


class Deferrals(Protocol):
    """Where a write goes when the store cannot take it now; the finaliser applies it later."""

    def complete_later(self, attempt: Attempt) -> None: ...

    def abandon_later(self, attempt_id: str, at: datetime) -> None: ...


@dataclass(frozen=True)
class IdempotentRequest:
    """What makes two requests the same: the key's scope (API key, path, key) and the body as JSON."""

    key: str
    scope: str
    body: Any

    def claim(self, now: datetime) -> KeyClaim:
        """The claim a new attempt makes on the key."""
        return KeyClaim(
            key_id=_digest(self.scope),
            body_hash=_digest(json.dumps(self.body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)),
            expires_at=int((now + timedelta(seconds=KEY_SECONDS)).timestamp()),
        )


def start_once(
    store: AttemptStore,
    tenant: Tenant,
    deferrals: Deferrals,
    target: StartTarget,
    body: bytes,
    idempotent: IdempotentRequest | None,
    now: Callable[[], datetime],
    answer_by: float | None = None,
) -> StartAnswer:
    """Answer a validated start: replay the key's first answer, or store, call the tenant once and record.

    `answer_by` (time.monotonic()) is when the caller must have the answer: recording the result is tried
    until then, and for at most RECORD_SECONDS after the tenant answered.
    """
    request_text, request_truncated = cap(body)
    attempt = Attempt(
        attempt_id=str(uuid.uuid4()),
        target=target,
        request_body=request_text,
        request_truncated=request_truncated,
        created_at=now(),
        idempotency_key=idempotent.key if idempotent else None,
    )
    replay = _store_attempt(store, deferrals, attempt, idempotent.claim(attempt.created_at) if idempotent else None)
    if replay is not None:
        return replay

    started = time.monotonic()
    try:
        answer = tenant.post_json(target.tenant_path(), body)
        result, http = classify(answer.status, answer.body, answer.retry_after, attempt.attempt_id)
    except UpstreamError as exc:
        result = {"outcome": Outcome.FAILED, "error_code": exc.error_code}
        http = upstream_answer(exc.status, exc.message, str(exc.error_code), attempt.attempt_id)
    except Exception:
        # Whatever broke, the attempt exists: it is answered and recorded like an unreachable tenant.
        logger.exception("tenant call failed unexpectedly", extra={"attempt_id": attempt.attempt_id})
        result = {"outcome": Outcome.FAILED, "error_code": "UPSTREAM_UNAVAILABLE"}
        http = upstream_answer(
            502, "The AMPECO tenant could not be reached.", "UPSTREAM_UNAVAILABLE", attempt.attempt_id
        )
    finished = attempt.completed(
        **result,
        state=AttemptState.FINAL,
        revision=1,
        answer=http,
        duration_ms=int((time.monotonic() - started) * 1000),
        completed_at=now(),
    )
    count_result(finished)
    record_by = time.monotonic() + RECORD_SECONDS
    _record(store, deferrals, finished, record_by if answer_by is None else min(answer_by, record_by))
    return http


def count_result(finished: Attempt) -> None:
    """One `StartResults` datapoint for the tenant's answer, by outcome and errorCode (a bounded dimension)."""
    code = finished.error_code
    if code is None:
        code = "none"
    elif finished.outcome is Outcome.REJECTED and code not in REJECTION_CODES:
        code = "OTHER"
    with single_metric(name="StartResults", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="outcome", value=str(finished.outcome))
        metric.add_dimension(name="errorCode", value=code)


def _store_attempt(
    store: AttemptStore, deferrals: Deferrals, attempt: Attempt, claim: KeyClaim | None
) -> StartAnswer | None:
    """Store the pending attempt; with a key, the first final answer instead when the key has one."""
    for _ in range(MAX_CLAIM_ROUNDS):
        try:
            _create(store, deferrals, attempt, claim)
            return None
        except KeyHeld as held:
            assert claim is not None
            holder = store.get(held.attempt_id) if held.attempt_id else None
            if holder is None or holder.releases_key:
                claim = KeyClaim(claim.key_id, claim.body_hash, claim.expires_at, taking_over=held.attempt_id)
                continue
            if holder.state is AttemptState.PENDING:
                raise Conflict("A start with this Idempotency-Key is still in progress.") from held
            if held.body_hash != claim.body_hash:
                raise InvalidInput(
                    "The given data was invalid.",
                    errors={"Idempotency-Key": ["This Idempotency-Key was used with a different body."]},
                ) from held
            if holder.answer is None:  # stored before answers were kept for repeats: never start it again
                raise Conflict("This Idempotency-Key's first start cannot be replayed; use a new key.") from held
            return holder.answer
    raise StorageUnavailable("The Idempotency-Key is changing hands, retry shortly.", retry_after=1)


def _create(store: AttemptStore, deferrals: Deferrals, attempt: Attempt, claim: KeyClaim | None) -> None:
    """The conditional create, once more when its answer was lost; abandoned when it cannot be settled."""
    moment = int(attempt.created_at.timestamp())
    try:
        store.create(attempt, claim, now=moment)
        return
    except StorageUnavailable as exc:
        if not exc.uncertain:
            raise
    try:
        store.create(attempt, claim, now=moment)
    except (StorageUnavailable, Throttled):
        # It may have landed: mark it never sent, so no sweep ever reports it as a failed start.
        _abandon(store, deferrals, attempt)
        raise


def _abandon(store: AttemptStore, deferrals: Deferrals, attempt: Attempt) -> None:
    try:
        store.abandon(attempt.attempt_id, attempt.created_at)
        return
    except AttemptConflict:
        return  # a tombstone is there already
    except Exception:
        logger.warning("marking an unsent attempt failed; deferring it", extra={"attempt_id": attempt.attempt_id})
    try:
        deferrals.abandon_later(attempt.attempt_id, attempt.created_at)
    except Exception:
        logger.exception(
            "an unsent attempt could not be marked; a sweep will report it as UPSTREAM_UNKNOWN",
            extra={"attempt_id": attempt.attempt_id},
        )


def _record(store: AttemptStore, deferrals: Deferrals, finished: Attempt, answer_by: float) -> None:
    """The tenant has answered: its result is recorded now, or queued for the finaliser, within the time left.

    The first completion and deferral are always tried; each further try only when it can end by `answer_by`.
    """
    first = True
    while first or time.monotonic() + RETRY_PAUSE_SECONDS + WRITE_SECONDS <= answer_by:
        if not first:
            time.sleep(RETRY_PAUSE_SECONDS)
        try:
            store.complete(finished)
            return
        except AttemptConflict:
            return  # an earlier try landed although its answer was lost
        except Exception:
            logger.warning("attempt completion failed; deferring it", extra={"attempt_id": finished.attempt_id})
        if not first and time.monotonic() + WRITE_SECONDS > answer_by:
            break
        try:
            deferrals.complete_later(finished)
            return
        except Exception:
            logger.warning("deferring the result failed", extra={"attempt_id": finished.attempt_id})
        first = False
    # The answer goes back regardless; what the record lacks is kept in the log, and a sweep marks it.
    logger.error(
        "the result could not be recorded; a sweep will report it as UPSTREAM_UNKNOWN",
        extra={
            "attempt_id": finished.attempt_id,
            "outcome": str(finished.outcome),
            "error_code": finished.error_code,
            "session_id": finished.session_id,
            "authorization_id": finished.authorization_id,
        },
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
