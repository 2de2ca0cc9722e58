"""Instants are kept to the microsecond everywhere: stored, served, relayed, and in the listings' bounds."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.contract.schemas import assert_valid, example
from tests.harness import Bridge, security_event

EVENTS = "/public-api/resources/security-events/v2.0"
SESSIONS = "/public-api/resources/sessions/v1.0"


def stored_events(bridge: Bridge) -> list[dict[str, Any]]:
    return [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "securityEvent"]


def listed(bridge: Bridge, path: str, **params: str) -> dict[str, Any]:
    answer = bridge.request("GET", f"{path}?{urlencode(params)}")
    assert answer.status == 200, answer.text
    body: dict[str, Any] = answer.json
    return body


def push_at(bridge: Bridge, at: str) -> int:
    # A fixed webhook id per time fixes the slots, so the order inside a millisecond is the same every run.
    answer = bridge.push(1, security_event("FirmwareUpdated", at), webhook_id=f"msg_{at}")
    assert answer.status == 202, answer.text
    event_id: int = answer.json["ids"][0]
    return event_id


# ---------------------------------------------------------------------- security events
def test_a_pushed_timestamp_keeps_its_microseconds_stored_served_and_relayed(bridge: Bridge) -> None:
    # Given a push written the way AMPECO writes times, with an offset
    [event_id] = bridge.push(17, security_event("ResetOrReboot", "2026-11-25T10:00:00.123456+01:00")).json["ids"]
    utc = "2026-11-25T09:00:00.123456Z"

    # Then the stored item, the listing, the read and the SNS message all carry the same instant, in UTC
    [item] = stored_events(bridge)
    assert item["occurredAt"]["S"] == utc
    listing = listed(bridge, EVENTS, **{"filter[chargePoint]": "17"})
    assert_valid("security_events_listing", listing)
    assert [i["timestamp"] for i in listing["data"]] == [utc]
    assert bridge.request("GET", f"{EVENTS}/{event_id}").json["data"]["timestamp"] == utc
    assert bridge.relay() == 1
    [message] = bridge.queue_messages("CriticalSecurityEventsQueue")
    body = json.loads(message["Body"])
    assert (body["occurredAt"], body["data"]["timestamp"]) == (utc, utc)


def test_an_ampeco_notification_timestamp_keeps_its_microseconds(bridge: Bridge) -> None:
    notification = example("notification_security_event")
    assert notification["timestamp"] == "2025-11-24T21:14:07.123456Z"
    assert bridge.notify(notification).status == 202
    [item] = stored_events(bridge)
    assert item["occurredAt"]["S"] == notification["timestamp"]


@pytest.fixture
def one_millisecond(bridge: Bridge) -> dict[str, int]:
    """Four events inside one millisecond, microseconds apart, and one in each neighbouring millisecond."""
    times = ("09:59:59.999999", "10:00:00.100100", "10:00:00.100200", "10:00:00.100300", "10:00:00.100900")
    return {t: push_at(bridge, f"2026-11-25T{t}Z") for t in (*times, "10:00:00.101000")}


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("10:00:00.100200", None, ["10:00:00.101000", "10:00:00.100900", "10:00:00.100300", "10:00:00.100200"]),
        (None, "10:00:00.100200", ["10:00:00.100200", "10:00:00.100100", "09:59:59.999999"]),
        ("10:00:00.100200", "10:00:00.100200", ["10:00:00.100200"]),
        ("10:00:00.100201", "10:00:00.100299", []),
        ("10:00:00.100150", "10:00:00.100350", ["10:00:00.100300", "10:00:00.100200"]),
        (
            "10:00:00.100000",
            "10:00:00.100999",
            ["10:00:00.100900", "10:00:00.100300", "10:00:00.100200", "10:00:00.100100"],
        ),
    ],
)
def test_security_event_time_bounds_are_inclusive_to_the_microsecond(
    bridge: Bridge, one_millisecond: dict[str, int], since: str | None, until: str | None, expected: list[str]
) -> None:
    params = {}
    if since:
        params["filter[timestampFrom]"] = f"2026-11-25T{since}Z"
    if until:
        params["filter[timestampTo]"] = f"2026-11-25T{until}Z"
    body = listed(bridge, EVENTS, **params)
    # Within one millisecond the order is the ids' (their slots), not the microseconds'.
    assert sorted(i["timestamp"] for i in body["data"]) == sorted(f"2026-11-25T{t}Z" for t in expected)
    assert [i["id"] for i in body["data"]] == sorted((one_millisecond[t] for t in expected), reverse=True)


@pytest.mark.parametrize("per_page", [1, 2, 3])
def test_pages_across_a_boundary_millisecond_are_full_and_continue_after_the_last_item(
    bridge: Bridge, one_millisecond: dict[str, int], per_page: int
) -> None:
    # Given bounds that cut through the millisecond both events and dropped neighbours share
    bounds = {
        "filter[timestampFrom]": "2026-11-25T10:00:00.100150Z",
        "filter[timestampTo]": "2026-11-25T10:00:00.100350Z",
    }
    wanted = {one_millisecond["10:00:00.100200"], one_millisecond["10:00:00.100300"]}
    seen: list[int] = []
    page = listed(bridge, EVENTS, **bounds, per_page=str(per_page))
    while True:
        # Then every page but the last is full, and the pages hold each wanted event once
        assert len(page["data"]) == (per_page if page["links"]["next"] else len(page["data"]))
        seen += [i["id"] for i in page["data"]]
        if not page["links"]["next"]:
            break
        page = listed(bridge, EVENTS, **{k: v[0] for k, v in parse_qs(urlsplit(page["links"]["next"]).query).items()})
    assert sorted(seen) == sorted(wanted)
    assert len(seen) == len(set(seen))


# ---------------------------------------------------------------------- sessions
def session_update(session_id: str, started: str, **fields: Any) -> dict[str, Any]:
    body = example("notification_session_update")
    body["session"].update({"id": session_id, "startedAt": started, **fields})
    return body


def test_session_times_keep_their_microseconds_in_utc(bridge: Bridge) -> None:
    body = session_update(
        "987654",
        "2025-11-24T20:02:11.654321+02:00",
        status="finished",
        stoppedAt="2025-11-24T21:40:53.000001Z",
        lastUpdatedAt="2025-11-24T21:40:54.999999Z",
    )
    assert bridge.notify(body).status == 202
    answer = bridge.request("GET", f"{SESSIONS}/987654")
    assert_valid("session_read", answer.json)
    session = answer.json["data"]
    assert (session["startedAt"], session["stoppedAt"], session["lastUpdatedAt"]) == (
        "2025-11-24T18:02:11.654321Z",
        "2025-11-24T21:40:53.000001Z",
        "2025-11-24T21:40:54.999999Z",
    )


def test_start_stop_notification_times_keep_their_microseconds(bridge: Bridge) -> None:
    body = example("notification_session_start_stop", "stop")
    body.update(startedAtTimestamp="2025-11-24T18:02:11.000123Z", stoppedAtTimestamp="2025-11-24T21:40:53.999000Z")
    assert bridge.notify(body).status == 202
    session = bridge.request("GET", f"{SESSIONS}/{body['sessionId']}").json["data"]
    assert (session["startedAt"], session["stoppedAt"]) == (
        "2025-11-24T18:02:11.000123Z",
        "2025-11-24T21:40:53.999000Z",
    )


@pytest.fixture
def sessions_in_one_millisecond(bridge: Bridge) -> None:
    for n, micro in enumerate(("100100", "100200", "100300"), start=1):
        assert bridge.notify(session_update(str(n), f"2025-11-24T18:00:00.{micro}Z")).status == 202


@pytest.mark.parametrize(
    ("after", "before", "expected"),
    [
        ("100200", None, ["3", "2"]),
        (None, "100200", ["2", "1"]),
        ("100200", "100200", ["2"]),
        ("100201", "100299", []),
        ("100101", "100300", ["3", "2"]),
    ],
)
def test_session_started_bounds_are_inclusive_to_the_microsecond(
    bridge: Bridge, sessions_in_one_millisecond: None, after: str | None, before: str | None, expected: list[str]
) -> None:
    params = {}
    if after:
        params["filter[startedAfter]"] = f"2025-11-24T18:00:00.{after}Z"
    if before:
        params["filter[startedBefore]"] = f"2025-11-24T18:00:00.{before}Z"
    assert [s["id"] for s in listed(bridge, SESSIONS, **params)["data"]] == expected


@pytest.mark.parametrize(
    "bound",
    ["filter[startedAfter]=9999-12-31T23:59:59.999999Z", "filter[startedBefore]=0001-01-01T00:00:00.000001Z"],
)
def test_session_bounds_at_the_edges_of_the_calendar_are_an_empty_page(bridge: Bridge, bound: str) -> None:
    bridge.notify(session_update("987654", "2025-11-24T18:02:11Z"))
    answer = bridge.request("GET", f"{SESSIONS}?{bound}")
    assert answer.status == 200, answer.text
    assert answer.json["data"] == []


@pytest.mark.parametrize(
    "bound",
    ["filter[timestampFrom]=9999-12-31T23:59:59.999999Z", "filter[timestampTo]=0001-01-01T00:00:00.000001Z"],
)
def test_security_event_bounds_at_the_edges_of_the_calendar_are_an_empty_page(bridge: Bridge, bound: str) -> None:
    push_at(bridge, "2026-11-25T10:00:00Z")
    answer = bridge.request("GET", f"{EVENTS}?{bound}")
    assert answer.status == 200, answer.text
    assert answer.json["data"] == []
