"""Session ordering through the real webhook handler: a notification without lastUpdatedAt keeps the guard on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.schemas import example
from tests.harness import Bridge

SESSIONS = "/public-api/resources/sessions/v1.0"


def update(**fields: Any) -> dict[str, Any]:
    body = example("notification_session_update")
    body["session"].update(fields)
    return body


def without_last_updated_at(body: dict[str, Any]) -> dict[str, Any]:
    body["session"].pop("lastUpdatedAt")
    return body


def start_stop(**fields: Any) -> dict[str, Any]:
    body = example("notification_session_start_stop")
    body.update(fields)
    return body


def served(bridge: Bridge) -> dict[str, Any]:
    answer = bridge.request("GET", f"{SESSIONS}/987654")
    assert answer.status == 200, answer.text
    data: dict[str, Any] = answer.json["data"]
    return data


def test_an_update_without_last_updated_at_then_an_older_update_leaves_the_newer_session(bridge: Bridge) -> None:
    # Given an active session, then its finish reported without lastUpdatedAt (it states stoppedAt 19:00)
    assert bridge.notify(update(status="active", energy=1, lastUpdatedAt="2025-11-24T18:20:05Z")).status == 202
    finished = without_last_updated_at(update(status="finished", energy=3, stoppedAt="2025-11-24T19:00:00Z"))
    assert bridge.notify(finished).status == 202
    assert served(bridge)["status"] == "finished"

    # When an update from 18:30 arrives late
    answer = bridge.notify(update(status="active", energy=2, lastUpdatedAt="2025-11-24T18:30:00Z"))

    # Then it is acknowledged and the finished session stays
    assert answer.status == 202
    session = served(bridge)
    assert (session["status"], session["energy"], session["stoppedAt"]) == (
        "finished",
        3,
        "2025-11-24T19:00:00.000000Z",
    )


def test_an_older_update_without_last_updated_at_does_not_overwrite_a_newer_one(bridge: Bridge) -> None:
    # Given a finished session
    bridge.notify(update(status="finished", stoppedAt="2025-11-24T19:00:00Z", lastUpdatedAt="2025-11-24T19:00:01Z"))

    # When an update stating only its start (18:02:11) arrives, then an update from 18:20
    bridge.notify(without_last_updated_at(update(status="active")))
    bridge.notify(update(status="active", lastUpdatedAt="2025-11-24T18:20:05Z"))

    # Then neither changed it
    assert served(bridge)["status"] == "finished"


@pytest.mark.parametrize("late", ["start notification", "update"])
def test_a_stop_without_last_updated_at_is_not_undone_by_a_late_notification(bridge: Bridge, late: str) -> None:
    # Given a session stopped by a start/stop notification that carries no lastUpdatedAt
    bridge.notify(update(status="active", lastUpdatedAt="2025-11-24T18:20:05Z"))
    stop = start_stop(action="stop", stoppedAtTimestamp="2025-11-24T21:40:53Z")
    stop.pop("lastUpdatedAt")
    assert bridge.notify(stop).status == 202

    # When an earlier notification arrives late
    late_update = update(status="active", energy=5, lastUpdatedAt="2025-11-24T18:20:05Z")
    body = start_stop(lastUpdatedAt="2025-11-24T18:02:12Z") if late != "update" else late_update
    assert bridge.notify(body).status == 202

    # Then the session stays finished
    assert served(bridge)["status"] == "finished"
