"""Reconciliation with the tenant's own listings: what a dropped webhook lost still arrives, once.

Each test has its own tenant simulator (so its listings hold only what the test made), the real
reconciler, webhooks and starts handlers on moto, and the relay into the template's queues.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from local.faults import fault
from local.lambda_runtime import load_function
from local.tenant_sim import TenantSimulator, session_update_notification
from tests.conftest import AMPECO_TOKEN
from tests.harness import Bridge

SECURITY_EVENTS = "/public-api/resources/security-events/v2.0"
SESSIONS = "/public-api/resources/sessions/v1.0"
EVSE_START = "/public-api/actions/evse/v1.0/{evse}/start"


@pytest.fixture
def sim() -> Iterator[TenantSimulator]:
    with TenantSimulator(token=AMPECO_TOKEN, webhook_url=None, timeout_hint_seconds=3) as simulator:
        yield simulator


@pytest.fixture
def reconcile(bridge: Bridge, sim: TenantSimulator, monkeypatch: pytest.MonkeyPatch) -> Callable[[], dict[str, Any]]:
    """The reconciler and the starts function pointed at this test's tenant."""
    from bridge.tenant_client import TenantClient
    from bridge.tenant_listings import TenantListings

    reconciler = load_function(bridge.stack.template, "ReconcilerFunction")
    deps = reconciler.deps
    client = TenantClient(sim.url, lambda: AMPECO_TOKEN, 5)
    monkeypatch.setattr(reconciler, "deps", dataclasses.replace(deps, listings=TenantListings(client)))
    starts = load_function(bridge.stack.template, "StartsFunction").service
    short = TenantClient(sim.url, lambda: AMPECO_TOKEN, 0.5)  # SIM:LATE_START answers after this deadline
    monkeypatch.setattr(starts, "deps", dataclasses.replace(starts.deps, tenant=short))
    return lambda: dict(bridge.reconcile())


def messages(bridge: Bridge, topic: str) -> list[dict[str, Any]]:
    bridge.relay()
    return [d for d in bridge.deliveries.all() if d["topic"] == topic]


def listed(bridge: Bridge, path: str) -> list[dict[str, Any]]:
    answer = bridge.request("GET", f"{path}?per_page=100")
    assert answer.status == 200, answer.text
    return list(answer.json["data"])


def notification_of(item: dict[str, Any], timestamp: str) -> dict[str, Any]:
    """The SecurityEventNotification the tenant would have sent for a recorded event."""
    body = {
        "notification": "SecurityEventNotification",
        "chargePointId": item["chargePoint"],
        "type": item["type"],
        "timestamp": timestamp,
        "critical": item["critical"],
    }
    if item["techInfo"]:
        body["techInfo"] = item["techInfo"]
    return body


def moment(seconds_ago: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat(timespec="microseconds")


# ---------------------------------------------------------------------- security events
def test_events_whose_notifications_were_dropped_arrive_once_from_the_listing(
    bridge: Bridge, sim: TenantSimulator, reconcile: Callable[[], dict[str, Any]]
) -> None:
    for n in range(3):
        sim.record_security_event(40 + n, "TamperDetectionActivated", moment(n), f"lid {n}", notify=False)
    sim.record_security_event(43, "InvalidMessages", moment(), notify=False)  # not in AMPECO's listing

    first = reconcile()

    assert first["security-events"] | {"failure": None} == {
        "pages": 1,
        "listed": 3,
        "reconciled": 3,
        "skipped": 0,
        "finished": True,
        "failure": None,
    }
    assert sorted(e["chargePoint"] for e in listed(bridge, SECURITY_EVENTS)) == [40, 41, 42]
    relayed = messages(bridge, "security-events")
    assert sorted(m["body"]["data"]["chargePoint"] for m in relayed) == [40, 41, 42]
    assert {m["body"]["data"]["source"] for m in relayed} == {"reconciled"}
    # The next run lists the same three again (the overlap): nothing new, nothing relayed twice.
    again = reconcile()
    assert (again["security-events"]["listed"], again["security-events"]["reconciled"]) == (3, 0)
    assert len(messages(bridge, "security-events")) == 3
    assert len(listed(bridge, SECURITY_EVENTS)) == 3


def test_a_notification_then_its_listing_item_is_one_event_from_the_webhook(
    bridge: Bridge, sim: TenantSimulator, reconcile: Callable[[], dict[str, Any]]
) -> None:
    reported = datetime.now(UTC).astimezone(timezone(timedelta(hours=2))).isoformat(timespec="microseconds")
    item = sim.record_security_event(7, "FirmwareUpdated", reported, "v1.2.3", notify=False)
    assert bridge.notify(notification_of(item, reported)).status == 202

    run = reconcile()

    assert (run["security-events"]["listed"], run["security-events"]["reconciled"]) == (1, 0)
    [message] = messages(bridge, "security-events")
    assert message["body"]["data"]["source"] == "webhook"
    assert len(listed(bridge, SECURITY_EVENTS)) == 1


def test_a_listing_item_then_its_late_notification_is_one_event_relayed_once(
    bridge: Bridge, sim: TenantSimulator, reconcile: Callable[[], dict[str, Any]]
) -> None:
    reported = moment()
    item = sim.record_security_event(8, "SecurityLogWasCleared", reported, notify=False)
    assert reconcile()["security-events"]["reconciled"] == 1
    [message] = messages(bridge, "security-events")

    late = bridge.notify(notification_of(item, reported))

    assert late.status == 200  # acknowledged as what it is: a repeat of an event stored already
    assert messages(bridge, "security-events") == [message]
    assert message["body"]["data"]["source"] == "reconciled"
    [stored] = listed(bridge, SECURITY_EVENTS)
    assert stored["timestamp"] == item["timestamp"]


def test_a_run_interrupted_after_a_page_resumes_at_its_cursor_and_loses_nothing(
    bridge: Bridge, sim: TenantSimulator, reconcile: Callable[[], dict[str, Any]]
) -> None:
    for n in range(250):
        sim.record_security_event(1000 + n, "ResetOrReboot", moment(n / 100), notify=False)
    reconcile_table = bridge.stack.refs["ReconcileTable"]
    saves = 0

    def second_save(params: Any) -> bool:
        nonlocal saves
        if params.get("TableName") != reconcile_table:
            return False
        saves += 1
        return saves == 2

    with fault("dynamodb", "PutItem", second_save) as crash:
        interrupted = reconcile()

    assert crash.fired == 1
    assert interrupted["security-events"]["pages"] == 2
    assert interrupted["security-events"]["finished"] is False
    listing_calls = [c for c in sim.calls if c.path.startswith(SECURITY_EVENTS)]
    resumed = reconcile()
    assert resumed["security-events"]["finished"] is True
    resumed_calls = [c for c in sim.calls if c.path.startswith(SECURITY_EVENTS)][len(listing_calls) :]
    assert "cursor=&" not in resumed_calls[0].path + "&"  # the first call carried the saved cursor
    assert resumed["security-events"]["pages"] == 2  # page 2 again (a repeat), then page 3
    charge_points = [m["body"]["data"]["chargePoint"] for m in messages(bridge, "security-events")]
    assert sorted(charge_points) == list(range(1000, 1250))  # every one, once


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (429, "HTTP 429, Retry-After 30"),
        (500, "HTTP 500"),
        (503, "HTTP 503, Retry-After 30"),
        ("garbage", "the answer is not a listing page"),
    ],
)
def test_a_tenant_failing_mid_run_loses_nothing_and_the_next_run_takes_the_rest(
    bridge: Bridge, sim: TenantSimulator, reconcile: Callable[[], dict[str, Any]], answer: int | str, reason: str
) -> None:
    for n in range(150):  # two pages
        sim.record_security_event(2000 + n, "MemoryExhaustion", moment(n / 100), notify=False)

    sim.fail_listings(answer)  # the first page
    at_once = reconcile()["security-events"]
    sim.fail_listings(None, answer)  # the first page, then the second fails
    midway = reconcile()["security-events"]
    resumed = reconcile()["security-events"]

    assert (at_once["failure"], at_once["pages"]) == (reason, 0)
    assert (midway["failure"], midway["pages"], midway["listed"]) == (reason, 1, 100)
    assert (resumed["failure"], resumed["finished"], resumed["listed"]) == (None, True, 50)
    charge_points = [m["body"]["data"]["chargePoint"] for m in messages(bridge, "security-events")]
    assert sorted(charge_points) == list(range(2000, 2150))  # all of them, once
    assert reconcile()["security-events"]["reconciled"] == 0


# ---------------------------------------------------------------------- sessions and starts
def start(bridge: Bridge, id_tag: str, evse: int = 2301) -> Any:
    return bridge.request("POST", EVSE_START.format(evse=evse), body={"idTag": id_tag})


def test_a_silent_start_session_arrives_from_the_listing(
    bridge: Bridge, sim: TenantSimulator, reconcile: Callable[[], dict[str, Any]]
) -> None:
    answer = start(bridge, "SIM:SILENT_START")
    assert (answer.status, answer.json["success"]) == (202, True), answer.text
    assert listed(bridge, SESSIONS) == []

    run = reconcile()

    assert (run["sessions"]["listed"], run["sessions"]["reconciled"]) == (1, 1)
    [session] = listed(bridge, SESSIONS)
    assert session["id"] == str(answer.json["sessionId"])
    assert isinstance(session["randomisedDelay"], int)
    assert reconcile()["sessions"]["reconciled"] == 0  # listed again in the overlap: nothing new


def test_a_late_start_504_is_corrected_to_started_by_the_reconciler(
    bridge: Bridge, sim: TenantSimulator, reconcile: Callable[[], dict[str, Any]]
) -> None:
    answer = start(bridge, "SIM:LATE_START")
    assert (answer.status, answer.json["errorCode"]) == (504, "UPSTREAM_TIMEOUT")
    [failed] = messages(bridge, "start-results")
    assert (failed["attributes"]["outcome"], failed["attributes"]["errorCode"]) == ("failed", "UPSTREAM_TIMEOUT")

    reconcile()

    corrected = messages(bridge, "start-results")[1:]
    assert len(corrected) == 1
    [correction] = corrected
    session_id = [s.session_id for s in sim.records.sessions()]
    assert correction["attributes"] == {
        "eventType": "session.start.result",
        "eventId": correction["body"]["eventId"],
        "outcome": "started",
        "evseId": "2301",
        "correction": "true",
    }
    data = correction["body"]["data"]
    assert (data["sessionId"], data["corrects"]) == (str(session_id[0]), failed["body"]["eventId"])
    assert correction["body"]["eventId"] != failed["body"]["eventId"]


def test_a_late_starts_own_notification_resolves_it_without_the_reconciler(
    bridge: Bridge, sim: TenantSimulator, reconcile: Callable[[], dict[str, Any]]
) -> None:
    answer = start(bridge, "SIM:LATE_START", evse=2302)
    assert answer.status == 504
    [session] = sim.records.sessions()

    assert bridge.notify(session_update_notification(session)).status == 202

    results = messages(bridge, "start-results")
    assert [m["attributes"]["outcome"] for m in results] == ["failed", "started"]
    assert results[1]["body"]["data"]["corrects"] == results[0]["body"]["eventId"]


def test_a_timeout_with_no_session_stays_failed(
    bridge: Bridge, sim: TenantSimulator, reconcile: Callable[[], dict[str, Any]]
) -> None:
    answer = start(bridge, "SIM:TIMEOUT", evse=2303)
    assert answer.status == 504
    other = start(bridge, "SOMEONE-ELSE", evse=2303)  # another driver's session on that EVSE
    assert other.status == 202

    reconcile()

    outcomes = sorted(m["attributes"]["outcome"] for m in messages(bridge, "start-results"))
    assert outcomes == ["failed", "started"]  # no correction: the idTag does not match
