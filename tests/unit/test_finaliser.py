"""The finaliser over in-memory ports: deferred writes, the sweep, and the real answer winning over a sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.error_codes import UPSTREAM_NOT_CALLED, UPSTREAM_UNKNOWN
from bridge.finaliser import abandon_message, apply_deferred, completion_message, sweep
from bridge.models.starts import Attempt, AttemptState, Outcome, StartAnswer, StartPath, StartTarget, event_id_of
from bridge.relay import message_for
from bridge.storage.attempts import attempt_to_plain
from tests.unit.fakes import ManualClock, MemoryAttempts

STUCK_AFTER = timedelta(seconds=180)


def pending(store: MemoryAttempts, clock: ManualClock, attempt_id: str = "a-1") -> Attempt:
    attempt = Attempt(attempt_id, StartTarget(StartPath.EVSE, evse_id=5), "{}", False, clock())
    store.create(attempt)
    return attempt


def started(attempt: Attempt, clock: ManualClock) -> Attempt:
    answer = StartAnswer(202, '{"success":true,"sessionId":9,"authorizationId":1}', attempt.attempt_id)
    return attempt.completed(
        state=AttemptState.FINAL,
        revision=1,
        outcome=Outcome.STARTED,
        session_id="9",
        answer=answer,
        completed_at=clock(),
    )


def test_a_deferred_result_completes_a_pending_attempt_once() -> None:
    store, clock = MemoryAttempts(), ManualClock()
    attempt = pending(store, clock)
    message = completion_message(started(attempt, clock))
    apply_deferred(store, message)
    apply_deferred(store, message)  # the queue delivers it again: nothing changes
    stored = store.attempts[attempt.attempt_id]
    assert (stored.state, stored.outcome, stored.revision) == (AttemptState.FINAL, Outcome.STARTED, 1)


def test_the_sweep_finalises_only_attempts_older_than_the_wait() -> None:
    store, clock = MemoryAttempts(), ManualClock()
    old = pending(store, clock, "old")
    clock.advance(200)
    fresh = pending(store, clock, "fresh")
    assert sweep(store, STUCK_AFTER, clock()) == 1
    assert store.attempts[old.attempt_id].error_code == UPSTREAM_UNKNOWN
    assert store.attempts[fresh.attempt_id].state is AttemptState.PENDING


def test_the_real_result_overrides_a_sweep_and_is_a_correction_of_its_message() -> None:
    # Given a result whose first deferred write failed, and a sweep that got there first
    store, clock = MemoryAttempts(), ManualClock()
    attempt = pending(store, clock)
    real = completion_message(started(attempt, clock))
    clock.advance(600)
    sweep(store, STUCK_AFTER, clock())
    swept = store.attempts[attempt.attempt_id]

    # When the queue redelivers the real result
    apply_deferred(store, real)

    # Then the attempt holds the real result, one revision on, naming the message it corrects
    corrected = store.attempts[attempt.attempt_id]
    assert (corrected.outcome, corrected.session_id, corrected.revision) == (Outcome.STARTED, "9", 2)
    assert corrected.corrects == swept.event_id == attempt.attempt_id
    assert corrected.event_id == event_id_of(attempt.attempt_id, 2) != attempt.attempt_id
    # and the relay publishes it as a correction
    message = message_for(attempt_to_plain(corrected), attempt_to_plain(swept))
    assert message is not None
    assert message.event_id == corrected.event_id
    assert message.data["corrects"] == attempt.attempt_id
    assert message.attributes["correction"].value == "true"
    assert "errorCode" not in message.attributes
    # A second delivery of the same result changes nothing
    apply_deferred(store, real)
    assert store.attempts[attempt.attempt_id].revision == 2


def test_an_abandon_after_a_sweep_corrects_it_to_never_sent() -> None:
    store, clock = MemoryAttempts(), ManualClock()
    attempt = pending(store, clock)
    clock.advance(600)
    sweep(store, STUCK_AFTER, clock())
    apply_deferred(store, abandon_message(attempt.attempt_id, attempt.created_at))
    corrected = store.attempts[attempt.attempt_id]
    assert (corrected.error_code, corrected.revision, corrected.corrects) == (
        UPSTREAM_NOT_CALLED,
        2,
        attempt.attempt_id,
    )
    assert corrected.releases_key


def test_an_abandon_of_a_pending_attempt_is_never_relayed() -> None:
    store, clock = MemoryAttempts(), ManualClock()
    attempt = pending(store, clock)
    before = attempt_to_plain(store.attempts[attempt.attempt_id])
    apply_deferred(store, abandon_message(attempt.attempt_id, clock()))
    after = store.attempts[attempt.attempt_id]
    assert after.state is AttemptState.ABANDONED
    assert message_for(attempt_to_plain(after), before) is None
    assert sweep(store, STUCK_AFTER, clock() + timedelta(hours=1)) == 0


@pytest.mark.parametrize("revision_change", [(1, 1), (2, 2)])
def test_a_final_attempt_changing_without_a_new_revision_is_not_relayed(revision_change: tuple[int, int]) -> None:
    store, clock = MemoryAttempts(), ManualClock()
    attempt = started(pending(store, clock), clock)
    old, new = revision_change
    image_before = attempt_to_plain(attempt.completed(revision=old))
    image_after = attempt_to_plain(attempt.completed(revision=new))
    assert message_for(image_after, image_before) is None
