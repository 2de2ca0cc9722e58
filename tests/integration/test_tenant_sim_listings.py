"""The tenant simulator's own records over real HTTP: its two listings, recorded security events and their
notifications, dropped notifications, SIM:SILENT_START and SIM:LATE_START, and the local run's control route."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import json
import logging
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from local import tenant_routes
from local.__main__ import LocalSettings, SettingError, banner, drop_share_from_env
from local.server import BridgeServer
from local.tenant_routes import SECURITY_EVENTS_ROUTE, TENANT_ROUTE, serve_tenant_controls
from local.tenant_sim import TenantSimulator
from tests.contract.schemas import assert_valid
from tests.harness import AMPECO_TOKEN, Bridge
from tests.integration.test_tenant_simulator import Receiver

TOKEN = "listing-token"
EVENTS = "/public-api/resources/security-events/v2.0"
SESSIONS = "/public-api/resources/sessions/v1.0"
MICRO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
PLUS_TWO = timezone(timedelta(hours=2))
_charge_points = itertools.count(10_000)


def at(minutes: float) -> str:
    """An instant `minutes` after BASE, written with a +02:00 offset as a charge point might report it."""
    return (BASE + timedelta(minutes=minutes)).astimezone(PLUS_TWO).isoformat()


def fresh() -> int:
    """A charge point id no other test uses: the listing tests share one simulator."""
    return next(_charge_points)


def call(
    sim: TenantSimulator,
    path: str,
    query: dict[str, str] | list[tuple[str, str]] | None = None,
    *,
    method: str = "GET",
    body: Any = None,
    token: str | None = TOKEN,
    timeout: float = 5,
) -> tuple[int, Any]:
    """One request to the simulator; (status, parsed JSON body)."""
    target = path + ("?" + urlencode(query) if query else "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    raw = None if body is None else json.dumps(body).encode()
    if raw is not None:
        headers["Content-Type"] = "application/json"
    host, port = urlsplit(sim.url).hostname, urlsplit(sim.url).port
    connection = http.client.HTTPConnection(host or "127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, target, body=raw, headers=headers)
        response = connection.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else None
    finally:
        connection.close()


def follow(sim: TenantSimulator, link: str) -> tuple[int, Any]:
    """GET an absolute `links.next` / `links.prev` URL, which must point at the simulator."""
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == sim.url
    return call(sim, parts.path, parse_qsl(parts.query, keep_blank_values=True))


def start(sim: TenantSimulator, charge_point: int, evse: int, id_tag: str = "FLEET-1") -> Any:
    """A start as the bridge sends it; the 202 body."""
    path = f"/public-api/actions/charge-point/v1.0/{charge_point}/start/{evse}"
    status, body = call(sim, path, method="POST", body={"idTag": id_tag})
    assert status == 202, body
    return body


def sent_bodies(sim: TenantSimulator) -> list[dict[str, Any]]:
    assert sim.wait_for_deliveries(), "deliveries still pending"
    return [sent.body for sent in sim.sent_notifications]


@pytest.fixture(scope="module")
def sim() -> Iterator[TenantSimulator]:
    """One simulator without a webhook for the listing tests; each test uses its own charge point ids."""
    simulator = TenantSimulator(TOKEN, None, notification_delay_seconds=0)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def notifying(receiver: Receiver) -> Iterator[TenantSimulator]:
    with TenantSimulator(TOKEN, receiver.url, notification_delay_seconds=0.01, timeout_hint_seconds=0.3) as simulator:
        yield simulator


# -- security events listing --------------------------------------------------------------------------


def test_the_events_listing_is_ampecos_shape_newest_first_and_only_critical_types(sim: TenantSimulator) -> None:
    # Given events of one charge point, one of a type AMPECO's resource does not hold
    cp = fresh()
    older = sim.record_security_event(cp, "FirmwareUpdated", at(0), notify=False)
    newer = sim.record_security_event(cp, "TamperDetectionActivated", at(5), "door 2", notify=False)
    sim.record_security_event(cp, "InvalidMessages", at(7), "not listed", notify=False)

    # When the tenant lists them
    status, page = call(sim, EVENTS, {"filter[chargePoint]": str(cp)})

    # Then
    assert status == 200
    assert_valid("security_events_listing", page)
    assert page["data"] == [{k: v for k, v in item.items() if k != "critical"} for item in (newer, older)]
    assert [item["techInfo"] for item in page["data"]] == ["door 2", ""]
    assert all(MICRO_Z.match(item["timestamp"]) for item in page["data"])
    assert page["data"][1]["timestamp"] == "2026-03-01T12:00:00.000000Z"  # +02:00 written in UTC
    assert page["links"] == {"first": None, "last": None, "prev": None, "next": None}
    assert page["meta"] == {"path": sim.url + EVENTS, "per_page": 100, "next_cursor": None, "prev_cursor": None}


def test_the_recorded_item_has_the_listing_fields_plus_critical(sim: TenantSimulator) -> None:
    cp = fresh()
    item = sim.record_security_event(cp, "ResetOrReboot", BASE, notify=False)
    assert set(item) == {"id", "chargePoint", "type", "techInfo", "timestamp", "critical"}
    assert 0 < item["id"] < 2**53
    assert (item["chargePoint"], item["techInfo"], item["critical"]) == (cp, "", True)
    assert item["timestamp"] == "2026-03-01T12:00:00.000000Z"
    assert sim.record_security_event(cp, "InvalidTLSVersion", BASE, notify=False)["critical"] is False
    assert sim.record_security_event(cp, "ResetOrReboot", BASE, critical=False, notify=False)["critical"] is False
    assert sim.record_security_event(cp, "ResetOrReboot", BASE, notify=False)["id"] > item["id"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"filter[type]": "ResetOrReboot"}, [2]),
        ({"filter[timestampFrom]": "2026-03-01T12:10:00Z"}, [3, 2]),  # inclusive: the one at exactly 12:10
        ({"filter[timestampTo]": "2026-03-01T14:10:00+02:00"}, [2, 1]),  # inclusive, another offset
        ({"filter[timestampFrom]": "2026-03-01T12:10:00Z", "filter[timestampTo]": "2026-03-01T12:10:00Z"}, [2]),
        ({"filter[timestampFrom]": "2026-03-01T12:10:00.000001Z"}, [3]),
        ({"filter[type]": "", "filter[timestampTo]": ""}, [3, 2, 1]),  # empty: absent
    ],
)
def test_event_filters_with_inclusive_bounds(sim: TenantSimulator, query: dict[str, str], expected: list[int]) -> None:
    charge_point, other = fresh(), fresh()
    ids = {
        n: sim.record_security_event(charge_point, kind, at(minutes), notify=False)["id"]
        for n, kind, minutes in ((1, "FirmwareUpdated", 0), (2, "ResetOrReboot", 10), (3, "FirmwareUpdated", 20))
    }
    sim.record_security_event(other, "ResetOrReboot", at(10), notify=False)

    status, page = call(sim, EVENTS, {**query, "filter[chargePoint]": str(charge_point)})

    assert status == 200, page
    assert [item["id"] for item in page["data"]] == [ids[n] for n in expected]


def test_paging_with_inserts_between_pages_misses_and_repeats_nothing(sim: TenantSimulator) -> None:
    # Given seven events, listed three per page
    cp = fresh()
    original = [sim.record_security_event(cp, "FirmwareUpdated", at(m), notify=False)["id"] for m in range(7)]
    query = {"filter[chargePoint]": str(cp), "per_page": "3"}
    status, first = call(sim, EVENTS, query)
    assert status == 200
    assert [item["id"] for item in first["data"]] == original[::-1][:3]

    # When events arrive between pages: one newer than the first page, one older than it, one tied with its last
    newer = sim.record_security_event(cp, "FirmwareUpdated", at(30), notify=False)["id"]
    older = sim.record_security_event(cp, "FirmwareUpdated", at(-1), notify=False)["id"]
    # the same instant as the last item seen, but a higher id: it sorts before that item, so on no later page
    tied = sim.record_security_event(cp, "FirmwareUpdated", at(4), notify=False)["id"]
    seen = [item["id"] for item in first["data"]]
    page = first
    while page["links"]["next"]:
        next_query = dict(parse_qsl(urlsplit(page["links"]["next"]).query))
        assert next_query["filter[chargePoint]"] == str(cp)
        assert next_query["per_page"] == "3"
        assert next_query["cursor"] == page["meta"]["next_cursor"]
        status, page = follow(sim, page["links"]["next"])
        assert status == 200
        assert_valid("security_events_listing", page)
        seen += [item["id"] for item in page["data"]]

    # Then every event that was there is seen once, the older newcomer too; the newer ones belong to a next pass
    assert sorted(seen) == sorted([*original, older])
    assert len(seen) == len(set(seen))
    assert newer not in seen
    assert tied not in seen
    assert page["meta"]["next_cursor"] is None


def test_prev_links_page_back_to_the_first_page(sim: TenantSimulator) -> None:
    cp = fresh()
    ids = [sim.record_security_event(cp, "TamperDetectionActivated", at(m), notify=False)["id"] for m in range(5)]
    _, first = call(sim, EVENTS, {"filter[chargePoint]": str(cp), "per_page": "2"})
    assert first["links"]["prev"] is None
    _, second = follow(sim, first["links"]["next"])
    assert [item["id"] for item in second["data"]] == [ids[2], ids[1]]
    assert second["meta"]["prev_cursor"]

    status, back = follow(sim, second["links"]["prev"])

    assert status == 200
    assert back["data"] == first["data"]
    assert back["links"]["prev"] is None
    assert back["meta"]["next_cursor"]


@pytest.mark.parametrize(("per_page", "size"), [("1", 1), ("100", 100), ("", 100)])
def test_per_page_from_1_to_100(sim: TenantSimulator, per_page: str, size: int) -> None:
    status, page = call(sim, EVENTS, {"per_page": per_page, "filter[chargePoint]": str(fresh())})
    assert status == 200
    assert page["meta"]["per_page"] == size


@pytest.mark.parametrize("per_page", ["0", "101", "-1", "ten", "1.5"])
def test_per_page_out_of_range_is_422(sim: TenantSimulator, per_page: str) -> None:
    status, body = call(sim, EVENTS, {"per_page": per_page})
    assert status == 422
    assert_valid("error", body)
    assert list(body["errors"]) == ["per_page"]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (EVENTS, {"filter[type]": "InvalidMessages"}, "filter.type"),  # not one of the seven
        (EVENTS, {"filter[type]": "firmwareupdated"}, "filter.type"),
        (EVENTS, {"filter[chargePoint]": "abc"}, "filter.chargePoint"),
        (EVENTS, {"filter[chargePoint]": "-3"}, "filter.chargePoint"),
        (EVENTS, {"filter[timestampFrom]": "yesterday"}, "filter.timestampFrom"),
        (EVENTS, {"filter[timestampTo]": "2026-03-01T12:00:00"}, "filter.timestampTo"),  # no offset
        (EVENTS, {"filter[timestampTo]": "2026-02-30T12:00:00Z"}, "filter.timestampTo"),
        (EVENTS, {"filter[timestampFrom]": "2026-03-01T12:00:00 02:00"}, "filter.timestampFrom"),  # '+' unescaped
        (EVENTS, {"filter[status]": "active"}, "filter.status"),  # a filter the simulator does not implement
        (EVENTS, {"cursor": "not-a-cursor"}, "cursor"),
        (SESSIONS, {"filter[lastUpdatedAfter]": "soon"}, "filter.lastUpdatedAfter"),
        (SESSIONS, {"filter[lastUpdatedBefore]": "1700000000"}, "filter.lastUpdatedBefore"),
        (SESSIONS, {"filter[evseId]": "1.5"}, "filter.evseId"),
        (SESSIONS, {"filter[chargePointId]": "x"}, "filter.chargePointId"),
        (SESSIONS, {"filter[timestampFrom]": "2026-03-01T12:00:00Z"}, "filter.timestampFrom"),
    ],
)
def test_junk_filters_and_cursors_are_422(sim: TenantSimulator, path: str, query: dict[str, str], field: str) -> None:
    status, body = call(sim, path, query)
    assert status == 422
    assert_valid("error", body)
    assert list(body["errors"]) == [field]


def test_a_cursor_of_the_other_listing_is_422(sim: TenantSimulator) -> None:
    cp = fresh()
    for m in range(2):
        sim.record_security_event(cp, "FirmwareUpdated", at(m), notify=False)
    _, page = call(sim, EVENTS, {"filter[chargePoint]": str(cp), "per_page": "1"})
    status, body = call(sim, SESSIONS, {"cursor": page["meta"]["next_cursor"]})
    assert (status, list(body["errors"])) == (422, ["cursor"])


def test_several_bad_parameters_are_all_named(sim: TenantSimulator) -> None:
    status, body = call(sim, EVENTS, {"filter[type]": "x", "per_page": "0"})
    assert status == 422
    assert set(body["errors"]) == {"filter.type", "per_page"}
    assert body["message"].endswith("(and 1 more error)")


@pytest.mark.parametrize("path", [EVENTS, SESSIONS])
@pytest.mark.parametrize("token", [None, "wrong"])
def test_listings_need_the_bearer_token(sim: TenantSimulator, path: str, token: str | None) -> None:
    assert call(sim, path, token=token) == (401, {"message": "Unauthenticated."})


@pytest.mark.parametrize("path", [EVENTS, SESSIONS])
def test_listings_are_get_only(sim: TenantSimulator, path: str) -> None:
    status, body = call(sim, path, method="POST", body={})
    assert status == 405
    assert_valid("error", body)


# -- sessions listing ---------------------------------------------------------------------------------


def test_started_sessions_are_listed_oldest_change_first_as_full_sessions(sim: TenantSimulator) -> None:
    cp = fresh()
    started = [start(sim, cp, evse)["sessionId"] for evse in (1, 2, 1)]

    status, page = call(sim, SESSIONS, {"filter[chargePointId]": str(cp)})

    assert status == 200
    assert_valid("sessions_listing", page)
    sessions = page["data"]
    assert [s["id"] for s in sessions] == [str(i) for i in started]
    assert [s["lastUpdatedAt"] for s in sessions] == sorted(s["lastUpdatedAt"] for s in sessions)
    for session in sessions:
        assert_valid("session", session)
        assert MICRO_Z.match(session["lastUpdatedAt"])
        assert MICRO_Z.match(session["startedAt"])
        assert (session["chargePointId"], session["idTag"], session["status"]) == (cp, "FLEET-1", "active")
    _, on_evse = call(sim, SESSIONS, {"filter[chargePointId]": str(cp), "filter[evseId]": "2"})
    assert [s["id"] for s in on_evse["data"]] == [str(started[1])]


def test_last_updated_bounds_are_inclusive(sim: TenantSimulator) -> None:
    cp = str(fresh())
    ids = [start(sim, int(cp), 1)["sessionId"] for _ in range(3)]
    _, page = call(sim, SESSIONS, {"filter[chargePointId]": cp})
    first, middle, last = (s["lastUpdatedAt"] for s in page["data"])

    _, after = call(sim, SESSIONS, {"filter[chargePointId]": cp, "filter[lastUpdatedAfter]": middle})
    _, before = call(sim, SESSIONS, {"filter[chargePointId]": cp, "filter[lastUpdatedBefore]": middle})
    _, exactly = call(
        sim,
        SESSIONS,
        {"filter[chargePointId]": cp, "filter[lastUpdatedAfter]": first, "filter[lastUpdatedBefore]": first},
    )

    assert [s["id"] for s in after["data"]] == [str(i) for i in ids[1:]]
    assert [s["id"] for s in before["data"]] == [str(i) for i in ids[:2]]
    assert [s["id"] for s in exactly["data"]] == [str(ids[0])]
    assert last >= middle >= first


def test_a_session_started_while_paging_comes_on_a_later_page(sim: TenantSimulator) -> None:
    cp = fresh()
    ids = [start(sim, cp, 1)["sessionId"] for _ in range(4)]
    _, page = call(sim, SESSIONS, {"filter[chargePointId]": str(cp), "per_page": "3"})
    seen = [int(s["id"]) for s in page["data"]]
    late = start(sim, cp, 2)["sessionId"]
    while page["links"]["next"]:
        _, page = follow(sim, page["links"]["next"])
        assert_valid("sessions_listing", page)
        seen += [int(s["id"]) for s in page["data"]]
    assert seen == [*ids, late]


# -- recorded security events and their notifications ------------------------------------------------


def test_a_recorded_event_is_notified_signed_as_ampeco_does(notifying: TenantSimulator, receiver: Receiver) -> None:
    item = notifying.record_security_event(1187, "TamperDetectionActivated", "2026-03-01T14:00:00+02:00", "door")

    [(path, headers, raw)] = receiver.wait_for(1)
    body = json.loads(raw)
    assert path == "/webhooks/ampeco"
    assert headers["X-Signature"] == hmac.new(TOKEN.encode(), raw, hashlib.sha256).hexdigest()
    assert_valid("notification_security_event", body)
    assert body == {
        "notification": "SecurityEventNotification",
        "chargePointId": 1187,
        "type": "TamperDetectionActivated",
        "timestamp": "2026-03-01T14:00:00+02:00",  # as reported; the listing writes the same instant in UTC
        "techInfo": "door",
        "critical": True,
    }
    assert item["timestamp"] == "2026-03-01T12:00:00.000000Z"


def test_a_non_critical_event_is_notified_but_not_listed(notifying: TenantSimulator) -> None:
    notifying.record_security_event(7, "InvalidMessages", BASE)
    [body] = sent_bodies(notifying)
    assert (body["critical"], "techInfo" in body) == (False, False)
    assert call(notifying, EVENTS)[1]["data"] == []


def test_notify_false_records_and_sends_nothing(notifying: TenantSimulator) -> None:
    item = notifying.record_security_event(8, "FirmwareUpdated", BASE, notify=False)
    assert sent_bodies(notifying) == []
    assert notifying.dropped_notifications == []  # withheld on purpose, not dropped
    assert [i["id"] for i in call(notifying, EVENTS)[1]["data"]] == [item["id"]]


GOOD_EVENT: dict[str, Any] = {"charge_point": 1, "type": "FirmwareUpdated", "timestamp": BASE}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"charge_point": 0}, "chargePoint"),
        ({"charge_point": True}, "chargePoint"),
        ({"type": ""}, "type"),
        ({"type": "X" * 51}, "type"),
        ({"timestamp": "2026-03-01T12:00:00"}, "timestamp"),
        ({"timestamp": datetime(2026, 3, 1)}, "timestamp"),  # naive
        ({"timestamp": "2026-03-01T12:00:00.1234567Z"}, "timestamp"),  # finer than the listing keeps
        ({"tech_info": "x" * 256}, "techInfo"),
        ({"critical": "yes"}, "critical"),
    ],
)
def test_record_security_event_refuses_bad_arguments(sim: TenantSimulator, change: dict[str, Any], field: str) -> None:
    before = len(sim.records.security_events())
    with pytest.raises(ValueError, match=field):
        sim.record_security_event(**{**GOOD_EVENT, **change}, notify=False)
    assert len(sim.records.security_events()) == before


# -- dropped notifications ---------------------------------------------------------------------------


def test_drop_share_1_drops_every_notification_and_logs_each(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="local")
    with TenantSimulator(TOKEN, receiver.url, notification_delay_seconds=0, drop_share=1.0) as simulator:
        session = start(simulator, 600, 1)["sessionId"]
        event = simulator.record_security_event(600, "FirmwareUpdated", BASE)["id"]
        assert simulator.wait_for_deliveries()

        dropped = simulator.dropped_notifications
        assert sorted((d.notification, tuple(d.ids.values())) for d in dropped) == [
            ("SecurityEventNotification", (event, 600)),
            ("SessionUpdateNotification", (session,)),
            ("session.start.stop.notification", (session,)),
        ]
        assert simulator.sent_notifications == []
        assert receiver.received == []
        # Dropped, not forgotten: both are still in the tenant's listings.
        assert len(call(simulator, SESSIONS)[1]["data"]) == 1
        assert len(call(simulator, EVENTS)[1]["data"]) == 1
    drops = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 3
    assert f"dropped SecurityEventNotification (eventId={event} chargePointId=600)" in " ".join(drops)
    assert all("{" not in line for line in drops)  # ids only, never a body


def test_drop_share_0_sends_everything(receiver: Receiver) -> None:
    with TenantSimulator(TOKEN, receiver.url, notification_delay_seconds=0, drop_share=0.0) as simulator:
        start(simulator, 601, 1)
        for m in range(5):
            simulator.record_security_event(601, "FirmwareUpdated", at(m))
        assert len(sent_bodies(simulator)) == 7
        assert simulator.dropped_notifications == []


def test_a_seeded_share_drops_some_the_same_number_each_time(receiver: Receiver) -> None:
    def run() -> tuple[int, int]:
        with TenantSimulator(TOKEN, receiver.url, drop_share=0.3, drop_seed=7) as simulator:
            for m in range(20):
                simulator.record_security_event(602, "FirmwareUpdated", at(m))
            assert simulator.wait_for_deliveries()
            return len(simulator.dropped_notifications), len(simulator.sent_notifications)

    dropped, sent = run()
    assert 0 < dropped < 20
    assert dropped + sent == 20
    assert run() == (dropped, sent)  # one generator: the same draws, whichever thread takes which


@pytest.mark.parametrize("share", [-0.1, 1.01, math.nan, math.inf])
def test_a_drop_share_outside_0_to_1_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="drop_share"):
        TenantSimulator(TOKEN, None, drop_share=share)


# -- SIM:SILENT_START and SIM:LATE_START --------------------------------------------------------------


def test_silent_start_starts_a_listed_session_and_notifies_nothing(notifying: TenantSimulator) -> None:
    answer = start(notifying, 700, 1, "SIM:SILENT_START")

    assert answer["success"] is True
    assert isinstance(answer["authorizationId"], int)
    assert sent_bodies(notifying) == []
    [listed] = call(notifying, SESSIONS)[1]["data"]
    assert (listed["id"], listed["idTag"]) == (str(answer["sessionId"]), "SIM:SILENT_START")


def test_late_start_answers_after_the_hint_and_its_session_is_listed_and_notified(
    notifying: TenantSimulator,
) -> None:
    began = time.monotonic()
    answer = start(notifying, 701, 1, "SIM:LATE_START")

    assert time.monotonic() - began >= notifying.timeout_hint_seconds
    assert answer["success"] is True
    [listed] = call(notifying, SESSIONS)[1]["data"]
    assert listed["id"] == str(answer["sessionId"])
    kinds = [(b["notification"], b.get("sessionId") or int(b["session"]["id"])) for b in sent_bodies(notifying)]
    assert kinds == [
        ("session.start.stop.notification", answer["sessionId"]),
        ("SessionUpdateNotification", answer["sessionId"]),
    ]


def test_late_start_misses_a_callers_deadline_yet_the_session_starts(notifying: TenantSimulator) -> None:
    path = "/public-api/actions/charge-point/v1.0/702/start/1"
    with pytest.raises(TimeoutError):
        call(notifying, path, method="POST", body={"idTag": "SIM:LATE_START"}, timeout=0.1)

    assert len(notifying.wait_for_notifications(2)) == 2  # notified while the answer is still held
    [listed] = call(notifying, SESSIONS, {"filter[chargePointId]": "702"})[1]["data"]
    assert listed["idTag"] == "SIM:LATE_START"


# -- the local run: POST /_local/tenant/security-events, SIM_DROP_NOTIFICATIONS ----------------------


@pytest.fixture
def server(bridge: Bridge) -> Iterator[BridgeServer]:
    local = BridgeServer(bridge.stack, bridge.stack.template, port=0, deliveries=bridge.deliveries)
    local.start()
    yield local
    local.stop()


@pytest.fixture
def local_tenant(server: BridgeServer) -> Iterator[TenantSimulator]:
    """A simulator wired as the local run wires it: signing with the bridge's AMPECO token, notifying it."""
    with TenantSimulator(AMPECO_TOKEN, server.url + "/webhooks/ampeco", notification_delay_seconds=0) as simulator:
        serve_tenant_controls(server, simulator)
        yield simulator


def post_local(server: BridgeServer, body: bytes) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", SECURITY_EVENTS_ROUTE, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_local_route_records_an_event_and_the_bridge_takes_the_notification(
    bridge: Bridge, server: BridgeServer, local_tenant: TenantSimulator
) -> None:
    body = {"chargePoint": 1187, "type": "TamperDetectionActivated", "timestamp": "2026-03-01T14:00:00+02:00"}

    status, item = post_local(server, json.dumps({**body, "techInfo": "door"}).encode())

    assert status == 201
    assert item == {
        "id": item["id"],
        "chargePoint": 1187,
        "type": "TamperDetectionActivated",
        "techInfo": "door",
        "timestamp": "2026-03-01T12:00:00.000000Z",
        "critical": True,
    }
    assert local_tenant.wait_for_deliveries()
    [sent] = local_tenant.sent_notifications
    assert (sent.notification, sent.status) == ("SecurityEventNotification", 202)
    assert call(local_tenant, EVENTS, token=AMPECO_TOKEN)[1]["data"][0]["id"] == item["id"]
    stored = [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "securityEvent"]
    assert [i["chargePoint"]["N"] for i in stored] == ["1187"]


def test_the_local_route_with_notify_false_records_only(server: BridgeServer, local_tenant: TenantSimulator) -> None:
    body = {"chargePoint": 5, "type": "MemoryExhaustion", "timestamp": "2026-03-01T12:00:00Z", "notify": False}
    status, item = post_local(server, json.dumps(body).encode())
    assert (status, item["critical"]) == (201, True)
    assert local_tenant.wait_for_deliveries()
    assert local_tenant.sent_notifications == []
    assert len(local_tenant.records.security_events()) == 1


def test_the_tenant_counts_show_what_it_holds_and_what_it_dropped(bridge: Bridge, server: BridgeServer) -> None:
    with TenantSimulator(AMPECO_TOKEN, server.url + "/webhooks/ampeco", drop_share=1.0) as dropping:
        serve_tenant_controls(server, dropping)
        for charge_point in (1, 2):
            body = {"chargePoint": charge_point, "type": "ResetOrReboot", "timestamp": "2026-03-01T12:00:00Z"}
            assert post_local(server, json.dumps(body).encode())[0] == 201
        assert dropping.wait_for_deliveries()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("GET", TENANT_ROUTE)
        counts = json.loads(connection.getresponse().read())
        connection.close()

    assert counts["securityEvents"] == counts["listedSecurityEvents"] == 2
    assert counts["dropShare"] == 1.0
    dropped = counts["dropped"]["SecurityEventNotification"]
    assert sorted(ids["chargePointId"] for ids in dropped) == [1, 2]
    assert bridge.table_items("SecurityEventsTable") == []  # nothing reached the bridge


GOOD = {"chargePoint": 5, "type": "FirmwareUpdated", "timestamp": "2026-03-01T12:00:00Z"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({**GOOD, "chargePoint": 0}, {"chargePoint"}),
        ({**GOOD, "chargePoint": "5"}, {"chargePoint"}),
        ({**GOOD, "chargePoint": 5.0}, {"chargePoint"}),
        ({**GOOD, "type": ""}, {"type"}),
        ({**GOOD, "type": "T" * 51}, {"type"}),
        ({**GOOD, "type": 3}, {"type"}),
        ({**GOOD, "timestamp": "2026-03-01 12:00"}, {"timestamp"}),
        ({**GOOD, "timestamp": 1772366400}, {"timestamp"}),
        ({**GOOD, "techInfo": "x" * 256}, {"techInfo"}),
        ({**GOOD, "techInfo": 4}, {"techInfo"}),
        ({**GOOD, "critical": "yes"}, {"critical"}),
        ({**GOOD, "notify": 1}, {"notify"}),
        ({**GOOD, "chargePointId": 5}, {"chargePointId"}),  # a misspelt field is named, not ignored
        ({}, {"chargePoint", "type", "timestamp"}),
        ([GOOD], {"body"}),
    ],
)
def test_the_local_route_refuses_a_bad_body_with_422(sim: TenantSimulator, body: Any, fields: set[str]) -> None:
    before = len(sim.records.security_events())
    status, answer = tenant_routes.record_security_event(sim, json.dumps(body).encode())
    assert status == 422
    assert_valid("error", answer)
    assert set(answer["errors"]) == fields
    assert len(sim.records.security_events()) == before


def test_a_bad_body_over_http_is_422_in_ampecos_format(server: BridgeServer, local_tenant: TenantSimulator) -> None:
    status, answer = post_local(server, b'{"chargePoint": -1}')
    assert status == 422
    assert_valid("error", answer)
    assert set(answer["errors"]) == {"chargePoint", "type", "timestamp"}
    assert answer["message"] == "The charge point must be a positive integer. (and 2 more errors)"


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff"])
def test_the_local_route_answers_400_to_malformed_json(sim: TenantSimulator, raw: bytes) -> None:
    status, answer = tenant_routes.record_security_event(sim, raw)
    assert status == 400
    assert_valid("error", answer)


def test_the_local_route_is_503_without_a_simulator(server: BridgeServer) -> None:
    serve_tenant_controls(server, None)  # as the local run does when AMPECO_BASE_URL names a tenant
    status, answer = post_local(server, json.dumps(GOOD).encode())
    assert status == 503
    assert "AMPECO_BASE_URL" in answer["message"]


def test_the_banner_shows_the_route_and_the_drop_share(server: BridgeServer, local_tenant: TenantSimulator) -> None:
    settings = LocalSettings.from_env({"SIM_DROP_NOTIFICATIONS": "0.25"})
    text = banner(settings, server, local_tenant)
    assert f"curl -s -X POST {server.url}{SECURITY_EVENTS_ROUTE}" in text
    assert "dropping 25% of its notifications" in text
    for word in ("SIM:SILENT_START", "SIM:LATE_START", "SIM_DROP_NOTIFICATIONS"):
        assert word in text


@pytest.mark.parametrize(("value", "share"), [(None, 0.0), ("", 0.0), ("0", 0.0), ("0.3", 0.3), ("1", 1.0)])
def test_sim_drop_notifications_from_0_to_1(value: str | None, share: float) -> None:
    env = {} if value is None else {"SIM_DROP_NOTIFICATIONS": value}
    assert drop_share_from_env(env) == share
    assert LocalSettings.from_env(env).drop_share == share


@pytest.mark.parametrize("value", ["1.5", "-0.1", "half", "nan", "inf", "30%"])
def test_sim_drop_notifications_out_of_range_or_not_a_number_is_refused(value: str) -> None:
    with pytest.raises(SettingError) as refused:
        drop_share_from_env({"SIM_DROP_NOTIFICATIONS": value})
    assert str(refused.value).startswith(f"SIM_DROP_NOTIFICATIONS={value!r} is not allowed: a number from 0 to 1")


def test_make_run_stops_before_serving_on_a_bad_sim_drop_notifications() -> None:
    env = {
        **os.environ,
        "SIM_DROP_NOTIFICATIONS": "2",
        "PORT": "0",
        "PYTHONPATH": os.pathsep.join([str(REPO / "shared"), str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "local"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert done.stdout == ""  # no banner: it never served
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("SIM_DROP_NOTIFICATIONS='2' is not allowed: a number from 0 to 1")
