"""Ambiguous starts: matched to a session only when the match is unique both ways, and never guessed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bridge.error_codes import UPSTREAM_TIMEOUT, UPSTREAM_UNKNOWN
from bridge.models.sessions import Session
from bridge.models.starts import Attempt, AttemptState, Outcome, StartAnswer, StartPath, StartTarget
from bridge.resolution import Resolver
from bridge.storage.attempts import AttemptConflict

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Attempts:
    def __init__(self, *attempts: Attempt) -> None:
        self.by_id = {a.attempt_id: a for a in attempts}

    def on_target(self, target: str, since: datetime, until: datetime, limit: int) -> list[Attempt]:
        return [a for a in self.by_id.values() if a.target.match_key == target and since <= a.created_at <= until]

    def correct(self, attempt: Attempt, expected_revision: int) -> None:
        current = self.by_id[attempt.attempt_id]
        if current.revision != expected_revision:
            raise AttemptConflict(attempt.attempt_id, current)
        self.by_id[attempt.attempt_id] = attempt


class Sessions:
    def __init__(self, *sessions: Session) -> None:
        self.sessions = list(sessions)

    def started_between(
        self, since: datetime, until: datetime, *, charge_point: int | None = None, evse: int | None = None
    ) -> list[Session]:
        return [
            s
            for s in self.sessions
            if since <= s.started_at <= until
            and (s.charge_point == charge_point if charge_point is not None else s.evse == evse)
        ]


def attempt(
    attempt_id: str = "a1",
    *,
    code: str = UPSTREAM_TIMEOUT,
    path: StartPath = StartPath.EVSE,
    id_tag: str | None = "FLEET-1",
    at: datetime = T0,
) -> Attempt:
    target = (
        StartTarget(path, evse_id=2301)
        if path is StartPath.EVSE
        else StartTarget(path, charge_point=1187, evse_network_id=1)
    )
    return Attempt(
        attempt_id=attempt_id,
        target=target,
        request_body=json.dumps({"idTag": id_tag} if id_tag else {}),
        request_truncated=False,
        created_at=at,
        state=AttemptState.FINAL,
        outcome=Outcome.FAILED,
        error_code=code,
        answer=StartAnswer(504, "{}", attempt_id),
        completed_at=at + timedelta(seconds=10),
        revision=1,
    )


def session(
    session_id: str = "s1",
    *,
    at: datetime = T0 + timedelta(seconds=3),
    id_tag: str | None = "FLEET-1",
    evse: int = 2301,
    charge_point: int = 1187,
) -> Session:
    return Session(
        id=session_id,
        document={"id": session_id, "authorizationId": 77},
        charge_point=charge_point,
        evse=evse,
        status="active",
        started_at=at,
        id_tag=id_tag,
        ordered_at=at,
    )


@pytest.mark.parametrize("code", [UPSTREAM_TIMEOUT, UPSTREAM_UNKNOWN])
def test_a_timed_out_or_swept_start_becomes_started_with_its_session_one_revision_on(code: str) -> None:
    attempts = Attempts(attempt(code=code))
    found = session()

    resolved = Resolver(attempts, Sessions(found)).for_session(found)

    assert resolved is not None
    stored = attempts.by_id["a1"]
    assert (stored.outcome, stored.error_code, stored.session_id, stored.authorization_id) == (
        Outcome.STARTED,
        None,
        "s1",
        "77",
    )
    assert (stored.revision, stored.corrects) == (2, "a1")  # the correction names the failed message
    assert stored.answer is not None
    assert stored.answer.status == 504


@pytest.mark.parametrize(
    "other",
    [
        session(id_tag="SOMEONE-ELSE"),
        session(evse=9999),
        session(at=T0 - timedelta(minutes=2)),
        session(at=T0 + timedelta(minutes=6)),
    ],
    ids=["other idTag", "other EVSE", "before the window", "after the window"],
)
def test_a_session_that_does_not_match_resolves_nothing(other: Session) -> None:
    attempts = Attempts(attempt())

    assert Resolver(attempts, Sessions(other)).for_session(other) is None
    assert attempts.by_id["a1"].outcome is Outcome.FAILED


def test_without_an_idtag_any_session_on_the_target_matches_but_two_sessions_mean_no_guess() -> None:
    lone = session(id_tag="APP-USER")
    attempts = Attempts(attempt(id_tag=None))
    assert Resolver(attempts, Sessions(lone)).for_session(lone) is not None

    first, second = session("s1", id_tag="A"), session("s2", id_tag="B", at=T0 + timedelta(seconds=20))
    attempts = Attempts(attempt(id_tag=None))
    assert Resolver(attempts, Sessions(first, second)).for_session(first) is None
    assert attempts.by_id["a1"].outcome is Outcome.FAILED


def test_two_ambiguous_starts_for_one_session_are_left_for_an_operator() -> None:
    found = session()
    attempts = Attempts(attempt("a1"), attempt("a2", at=T0 + timedelta(seconds=30)))

    assert Resolver(attempts, Sessions(found)).for_session(found) is None
    assert {a.outcome for a in attempts.by_id.values()} == {Outcome.FAILED}


def test_a_session_another_start_claimed_is_never_given_to_the_timed_out_one() -> None:
    # The caller retried after the 504; the retry started s1 and was told so.
    retry = replace(
        attempt("a2", at=T0 + timedelta(seconds=15)), outcome=Outcome.STARTED, error_code=None, session_id="s1"
    )
    attempts = Attempts(attempt("a1"), retry)
    found = session()

    assert Resolver(attempts, Sessions(found)).for_session(found) is None
    assert attempts.by_id["a1"].outcome is Outcome.FAILED


def test_on_the_charge_point_path_the_charge_point_is_the_target() -> None:
    found = session(evse=555)  # AMPECO's EVSE id, not the network id the path named
    attempts = Attempts(attempt(path=StartPath.CHARGE_POINT))

    assert Resolver(attempts, Sessions(found)).for_session(found) is not None


def test_a_session_the_index_has_not_caught_up_with_still_counts() -> None:
    found = session()
    attempts = Attempts(attempt())

    assert Resolver(attempts, Sessions()).for_session(found) is not None


def test_a_start_resolved_meanwhile_stays_as_that_write_left_it() -> None:
    found = session()
    attempts = Attempts(attempt())
    resolver = Resolver(attempts, Sessions(found))
    assert resolver.for_session(found) is not None

    assert resolver.for_session(found) is None  # no longer ambiguous: nothing to do
    assert attempts.by_id["a1"].revision == 2
