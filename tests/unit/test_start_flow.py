"""The start flow over in-memory ports: at most one tenant call per key, whatever fails between two steps."""

from __future__ import annotations

import time

import pytest

from bridge.errors import Conflict, InvalidInput, StorageUnavailable, Throttled, UpstreamError
from bridge.models.starts import AttemptState, Outcome, StartPath, StartTarget
from bridge.start_flow import IdempotentRequest, start_once
from tests.unit.fakes import LOST, ManualClock, MemoryAttempts, MemoryDeferrals, ScriptedTenant, TenantReply, lost

TARGET = StartTarget(StartPath.CHARGE_POINT, charge_point=12, evse_network_id=3)
STARTED = TenantReply(202, b'{"success":true,"sessionId":7,"authorizationId":8}')
BUSY = TenantReply(503, b'{"message":"Service Unavailable."}')
THROTTLED = TenantReply(429, b'{"message":"Too Many Attempts."}', "30")


class World:
    def __init__(self, *replies: TenantReply | Exception) -> None:
        self.store = MemoryAttempts()
        self.tenant = ScriptedTenant(list(replies) or [STARTED])
        self.deferrals = MemoryDeferrals()
        self.clock = ManualClock()

    def start(  # type: ignore[no-untyped-def]
        self, key: str | None = "k-1", body: dict[str, object] | None = None, answer_by: float | None = None
    ):
        request = IdempotentRequest(key, f"caller|{TARGET.tenant_path()}|{key}", body or {}) if key else None
        return start_once(self.store, self.tenant, self.deferrals, TARGET, b"{}", request, self.clock, answer_by)

    @property
    def only(self):  # type: ignore[no-untyped-def]
        [attempt] = self.store.attempts.values()
        return attempt


def test_a_start_is_stored_sent_once_and_recorded_with_its_answer() -> None:
    world = World()
    answer = world.start(key=None)
    assert (answer.status, len(world.tenant.calls)) == (202, 1)
    attempt = world.only
    assert (attempt.state, attempt.outcome, attempt.revision) == (AttemptState.FINAL, Outcome.STARTED, 1)
    assert attempt.answer == answer


def test_a_repeat_after_a_final_answer_gets_it_again_without_a_tenant_call() -> None:
    world = World()
    first = world.start()
    again = world.start()
    assert again == first  # same status, body and attempt id
    assert len(world.tenant.calls) == 1


def test_a_repeat_while_the_first_is_pending_is_409_with_any_body() -> None:
    world = World()
    world.store.faults.fail("complete", RuntimeError("down"))
    world.deferrals.faults.fail("complete_later", RuntimeError("down"))
    world.start(answer_by=time.monotonic())  # answered, but left pending: nothing could record the result
    with pytest.raises(Conflict):
        world.start()
    with pytest.raises(Conflict):
        world.start(body={"idTag": "other"})
    assert len(world.tenant.calls) == 1


def test_another_body_with_a_used_key_is_422_once_final() -> None:
    world = World()
    world.start()
    with pytest.raises(InvalidInput):
        world.start(body={"idTag": "other"})
    assert len(world.tenant.calls) == 1


@pytest.mark.parametrize(
    "retryable", [BUSY, THROTTLED, UpstreamError("slow", error_code="UPSTREAM_TIMEOUT", status=504)]
)
def test_a_retryable_answer_releases_the_key_for_one_new_attempt(retryable: TenantReply | Exception) -> None:
    world = World(retryable, STARTED)
    first = world.start()
    second = world.start()
    assert first.status in (429, 502, 504)
    assert second.status == 202
    assert second.attempt_id != first.attempt_id
    assert len(world.tenant.calls) == 2
    assert world.start() == second  # now bound to the start that succeeded
    assert len(world.tenant.calls) == 2


def test_a_swept_attempt_keeps_its_key_the_tenant_may_have_started_a_session() -> None:
    from datetime import timedelta

    from bridge.finaliser import sweep

    world = World()
    world.store.faults.fail("complete", RuntimeError("down"))
    world.deferrals.faults.fail("complete_later", RuntimeError("down"))
    first = world.start(answer_by=time.monotonic())
    world.clock.advance(600)
    assert sweep(world.store, timedelta(seconds=180), world.clock()) == 1
    replay = world.start()
    assert (replay.status, replay.attempt_id) == (502, first.attempt_id)
    assert "UPSTREAM_UNKNOWN" in replay.body
    assert len(world.tenant.calls) == 1


def test_a_create_whose_answer_was_lost_is_repeated_and_the_start_goes_ahead_once() -> None:
    world = World()
    world.store.faults.fail("create", LOST)
    answer = world.start()
    assert answer.status == 202
    assert world.store.faults.fired["create"] == 1
    assert len(world.tenant.calls) == 1
    assert world.only.state is AttemptState.FINAL


def test_a_create_that_cannot_be_settled_is_503_never_sent_and_marked_abandoned() -> None:
    world = World()
    world.store.faults.fail("create", LOST, lost())
    with pytest.raises(StorageUnavailable):
        world.start()
    assert world.store.faults.fired["create"] == 2
    assert world.tenant.calls == []
    assert world.only.state is AttemptState.ABANDONED
    # The key is free again: the caller's retry goes through, once.
    assert world.start().status == 202
    assert len(world.tenant.calls) == 1


def test_an_abandon_that_fails_is_deferred() -> None:
    world = World()
    world.store.faults.fail("create", LOST, Throttled("busy"))
    world.store.faults.fail("abandon", RuntimeError("down"))
    with pytest.raises(Throttled):
        world.start()
    assert world.store.faults.fired["abandon"] == 1
    assert world.deferrals.abandoned == [world.only.attempt_id]
    assert world.tenant.calls == []


def test_a_definite_create_failure_is_503_and_leaves_nothing() -> None:
    world = World()
    world.store.faults.fail("create", StorageUnavailable("down", uncertain=False))
    with pytest.raises(StorageUnavailable):
        world.start()
    assert world.store.faults.fired["create"] == 1
    assert (world.store.attempts, world.tenant.calls) == ({}, [])


@pytest.mark.parametrize("failure", [RuntimeError("down"), LOST])
def test_after_the_tenant_answered_the_caller_gets_the_answer_and_the_result_is_deferred(failure: object) -> None:
    world = World()
    world.store.faults.fail("complete", failure)  # type: ignore[arg-type]
    answer = world.start(key=None)
    assert answer.status == 202
    assert world.store.faults.fired["complete"] == 1
    [deferred] = world.deferrals.completed
    assert (deferred.outcome, deferred.answer) == (Outcome.STARTED, answer)


def test_when_the_deferral_fails_too_the_answer_still_goes_back() -> None:
    world = World()
    world.store.faults.fail("complete", RuntimeError("down"))
    world.deferrals.faults.fail("complete_later", RuntimeError("down"))
    assert world.start(key=None, answer_by=time.monotonic()).status == 202  # no time left to try again
    assert world.deferrals.faults.fired["complete_later"] == 1
    assert world.only.state is AttemptState.PENDING  # the sweep's to finalise


def test_an_expired_key_starts_again() -> None:
    world = World()
    first = world.start()
    world.clock.advance(3601)
    second = world.start()
    assert second.attempt_id != first.attempt_id
    assert len(world.tenant.calls) == 2


def test_a_repeat_whose_holder_cannot_be_read_is_503_and_sends_nothing() -> None:
    world = World()
    world.start()
    world.store.faults.fail("get", StorageUnavailable("down"))
    with pytest.raises(StorageUnavailable):
        world.start()
    assert len(world.tenant.calls) == 1


def test_when_both_writes_fail_they_are_tried_again_while_the_answer_may_wait() -> None:
    world = World()
    world.store.faults.fail("complete", RuntimeError("down"))
    world.deferrals.faults.fail("complete_later", RuntimeError("down"))
    answer = world.start(key=None, answer_by=time.monotonic() + 5)
    assert answer.status == 202
    assert world.store.faults.fired["complete"] == 1
    assert world.deferrals.faults.fired["complete_later"] == 1
    assert (world.only.state, world.only.outcome) == (AttemptState.FINAL, Outcome.STARTED)


def test_recording_stops_trying_when_the_answer_is_due() -> None:
    world = World()
    world.store.faults.fail("complete", *[RuntimeError("down")] * 50)
    world.deferrals.faults.fail("complete_later", *[RuntimeError("down")] * 50)
    began = time.monotonic()
    assert world.start(key=None, answer_by=began + 2.0).status == 202
    assert time.monotonic() - began < 2.0
    assert 1 <= world.store.faults.fired["complete"] < 50
    assert world.only.state is AttemptState.PENDING
