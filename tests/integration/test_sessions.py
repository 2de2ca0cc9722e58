"""Sessions from AMPECO's session notifications: ordering rules, randomisedDelay, listing and read."""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.contract.schemas import assert_valid, example
from tests.harness import Bridge

LISTING = "/public-api/resources/sessions/v1.0"


def update(session_id: str = "987654", **fields: Any) -> dict[str, Any]:
    body = example("notification_session_update")
    body["session"].update({"id": session_id, **fields})
    return body


def start_stop(session_id: int = 987654, **fields: Any) -> dict[str, Any]:
    body = example("notification_session_start_stop")
    body.update({"sessionId": session_id, **fields})
    return body


def read(bridge: Bridge, session_id: str) -> dict[str, Any]:
    answer = bridge.request("GET", f"{LISTING}/{session_id}")
    assert answer.status == 200, answer.text
    assert_valid("session_read", answer.json)
    return answer.json["data"]


def listing(bridge: Bridge, **params: str) -> dict[str, Any]:
    answer = bridge.request("GET", f"{LISTING}?{urlencode(params)}" if params else LISTING)
    assert answer.status == 200, answer.text
    assert_valid("sessions_listing", answer.json)
    return answer.json


def session_items(bridge: Bridge) -> list[dict[str, Any]]:
    return bridge.table_items("SessionsTable")


def test_the_examples_are_ampeco_shaped() -> None:
    assert_valid("notification_session_update", update())
    assert_valid("notification_session_start_stop", start_stop())


def test_a_session_update_appears_in_read_and_listing_with_its_randomised_delay(bridge: Bridge) -> None:
    assert bridge.notify(update(randomisedDelay=347)).status == 202

    session = read(bridge, "987654")
    assert session["id"] == "987654"
    assert session["randomisedDelay"] == 347
    assert session["chargePointId"] == 1187
    [item] = listing(bridge)["data"]
    assert item == session


def test_an_update_without_randomised_delay_means_zero(bridge: Bridge) -> None:
    body = example("notification_session_update", "without_randomised_delay")
    assert "randomisedDelay" not in body["session"]
    bridge.notify(body)
    assert read(bridge, str(body["session"]["id"]))["randomisedDelay"] == 0


def test_start_stop_notifications_create_a_session_and_never_touch_the_delay(bridge: Bridge) -> None:
    # Given the start notification first: the session appears with delay 0 and AMPECO's required fields
    assert bridge.notify(start_stop(lastUpdatedAt="2025-11-24T18:02:12Z")).status == 202
    first = read(bridge, "987654")
    assert (first["status"], first["randomisedDelay"]) == ("active", 0)

    # When the full update arrives, then the stop notification
    bridge.notify(update(randomisedDelay=120, lastUpdatedAt="2025-11-24T18:20:05Z"))
    bridge.notify(
        start_stop(action="stop", stoppedAtTimestamp="2025-11-24T19:00:00Z", lastUpdatedAt="2025-11-24T19:00:01Z")
    )

    # Then the stop finished it and kept the delay the update set
    final = read(bridge, "987654")
    assert (final["status"], final["randomisedDelay"], final["stoppedAt"]) == (
        "finished",
        120,
        "2025-11-24T19:00:00.000000Z",
    )


def test_the_deprecated_twin_is_handled_too(bridge: Bridge) -> None:
    body = example("notification_session_start_stop_deprecated")
    assert bridge.notify(body).status == 202
    assert read(bridge, str(body["sessionId"]))["chargePointId"] == body["chargePointId"]


def test_an_older_update_never_overwrites_a_newer_one(bridge: Bridge) -> None:
    bridge.notify(update(status="finished", lastUpdatedAt="2025-11-24T19:00:00Z"))
    answer = bridge.notify(update(status="active", lastUpdatedAt="2025-11-24T18:20:05Z"))

    assert answer.status == 202  # acknowledged: AMPECO must not retry it
    assert read(bridge, "987654")["status"] == "finished"


def test_with_equal_last_updated_at_the_later_arrival_wins(bridge: Bridge) -> None:
    bridge.notify(update(energy=100, lastUpdatedAt="2025-11-24T18:20:05Z"))
    bridge.notify(update(energy=200, lastUpdatedAt="2025-11-24T18:20:05Z"))
    assert read(bridge, "987654")["energy"] == 200


def test_a_repeat_changes_nothing(bridge: Bridge) -> None:
    raw = json.dumps(update()).encode()
    assert bridge.notify(raw).status == 202
    [before] = session_items(bridge)
    assert bridge.notify(raw).status == 200
    [after] = session_items(bridge)
    assert after == before


def test_concurrent_out_of_order_deliveries_leave_the_newest(bridge: Bridge) -> None:
    minutes = list(range(10, 22))
    bodies = [update(energy=m, lastUpdatedAt=f"2025-11-24T18:{m:02d}:00Z") for m in reversed(minutes)]
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def deliver(body: dict[str, Any]) -> None:
        barrier.wait()
        statuses.append(bridge.notify(body).status)

    threads = [threading.Thread(target=deliver, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert statuses == [202] * len(bodies)
    assert read(bridge, "987654")["energy"] == max(minutes)


def test_a_session_with_wrong_types_is_quarantined_not_refused(bridge: Bridge) -> None:
    answer = bridge.notify(update(chargePointId="1187"))
    assert answer.status == 202
    assert session_items(bridge) == []
    [record] = [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "notification"]
    assert record["status"]["S"] == "quarantined"


@pytest.mark.parametrize(
    "fields",
    [
        {"energy": "lots"},
        {"reason": "not_an_ampeco_reason"},
        {"authorizationId": "77"},
        {"power": [1]},
        {"reimbursementEligibility": "yes"},
        {"paymentStatus": "maybe"},
    ],
    ids=["energy", "reason", "authorizationId", "power", "reimbursementEligibility", "paymentStatus"],
)
def test_any_field_of_the_wrong_type_is_quarantined_never_served_back(bridge: Bridge, fields: dict[str, Any]) -> None:
    answer = bridge.notify(update(**fields))

    assert answer.status == 202
    assert session_items(bridge) == []
    assert listing(bridge)["data"] == []


def test_a_start_links_to_its_session_by_session_id(bridge: Bridge) -> None:
    answer = bridge.request("POST", "/public-api/actions/charge-point/v1.0/1187/start/2301", body={"idTag": "L"})
    session_id = answer.json["sessionId"]
    bridge.notify(start_stop(session_id=session_id))
    [attempt] = bridge.table_items("AttemptsTable")
    assert attempt["sessionId"]["S"] == read(bridge, str(session_id))["id"]


# ---------------------------------------------------------------------- listing
@pytest.fixture
def seeded(bridge: Bridge) -> list[dict[str, Any]]:
    """12 sessions over 2 charge points, 2 EVSEs each, statuses and id tags varying; two share a start time."""
    sessions = []
    for n, (cp, evse_i) in enumerate(itertools.product((100, 200), (1, 2, 3))):
        for half in (0, 1):
            sid = str(5000 + n * 2 + half)
            started = f"2025-11-24T{10 + n:02d}:{half * 30:02d}:00Z" if sid != "5003" else "2025-11-24T11:00:00Z"
            fields = {
                "chargePointId": cp,
                "evseId": cp + evse_i,
                "status": "active" if half else "finished",
                "idTag": f"TAG-{n % 3}",
                "startedAt": started,
            }
            assert bridge.notify(update(sid, **fields)).status == 202
            sessions.append({"id": sid, **fields})
    return sessions


def expected(seeded: list[dict[str, Any]], **filters: Any) -> list[str]:
    def keep(s: dict[str, Any]) -> bool:
        for name in ("chargePointId", "evseId", "status", "idTag"):
            if name in filters and s[name] != filters[name]:
                return False
        if "startedAfter" in filters and s["startedAt"] < filters["startedAfter"]:
            return False
        return not ("startedBefore" in filters and s["startedAt"] > filters["startedBefore"])

    ordered = sorted(filter(keep, seeded), key=lambda s: (s["startedAt"], int(s["id"])), reverse=True)
    return [s["id"] for s in ordered]


SINGLE_FILTERS = [
    {},
    {"chargePointId": 100},
    {"evseId": 202},
    {"status": "active"},
    {"idTag": "TAG-1"},
]
WINDOW = {"startedAfter": "2025-11-24T11:00:00Z", "startedBefore": "2025-11-24T14:30:00Z"}


@pytest.mark.parametrize("window", [{}, WINDOW], ids=["no window", "window"])
@pytest.mark.parametrize("single", SINGLE_FILTERS, ids=lambda f: next(iter(f), "none"))
def test_each_single_filter_is_one_query_on_its_index(
    bridge: Bridge, seeded: list[dict[str, Any]], single: dict[str, Any], window: dict[str, str]
) -> None:
    filters = {**single, **window}
    bridge.count_dynamodb_calls()
    body = listing(bridge, **{f"filter[{k}]": str(v) for k, v in filters.items()})
    assert [s["id"] for s in body["data"]] == expected(seeded, **filters)
    assert dict(bridge.dynamodb_calls) == {"Query": 1}


@pytest.mark.parametrize(
    "filters",
    [
        {"chargePointId": 200, "status": "active"},
        {"idTag": "TAG-0", "chargePointId": 100},
        {"evseId": 101, "status": "finished", "idTag": "TAG-0"},
        {"chargePointId": 100, "status": "active", **WINDOW},
    ],
)
def test_combined_filters_are_one_query_on_the_listing_table(
    bridge: Bridge, seeded: list[dict[str, Any]], filters: dict[str, Any]
) -> None:
    bridge.count_dynamodb_calls()
    body = listing(bridge, **{f"filter[{k}]": str(v) for k, v in filters.items()})
    assert [s["id"] for s in body["data"]] == expected(seeded, **filters)
    assert all(isinstance(s["randomisedDelay"], int) for s in body["data"])
    assert dict(bridge.dynamodb_calls) == {"Query": 1}  # every combination: tests/integration/test_session_listing.py


def test_equal_start_times_order_by_id_descending(bridge: Bridge, seeded: list[dict[str, Any]]) -> None:
    ids = [s["id"] for s in listing(bridge)["data"]]
    assert ids.index("5003") < ids.index("5002")


def test_pages_follow_links_next(bridge: Bridge, seeded: list[dict[str, Any]]) -> None:
    seen: list[str] = []
    page = listing(bridge, **{"filter[status]": "active", "per_page": "2"})
    while True:
        seen += [s["id"] for s in page["data"]]
        if not page["links"]["next"]:
            break
        query = {k: v[0] for k, v in parse_qs(urlsplit(page["links"]["next"]).query).items()}
        assert query["filter[status]"] == "active"
        page = listing(bridge, **query)
    assert seen == expected(seeded, status="active")


def test_ampecos_other_flags_are_accepted_and_ignored(bridge: Bridge, seeded: list[dict[str, Any]]) -> None:
    answer = bridge.request("GET", f"{LISTING}?withAuthorization=1&include[]=chargingPeriods&per_page=3")
    assert answer.status == 200
    assert len(answer.json["data"]) == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("filter[userId]=1", "filter[userId]"),
        ("filter[status]=running", "filter[status]"),
        ("filter[chargePointId]=abc", "filter[chargePointId]"),
        ("filter[startedAfter]=yesterday", "filter[startedAfter]"),
        (
            "filter[startedAfter]=2025-11-25T00:00:00Z&filter[startedBefore]=2025-11-24T00:00:00Z",
            "filter[startedAfter]",
        ),
        ("per_page=0", "per_page"),
        ("cursor=forged", "cursor"),
    ],
)
def test_bad_listing_queries_are_422(bridge: Bridge, query: str, field: str) -> None:
    answer = bridge.request("GET", f"{LISTING}?{query}")
    assert answer.status == 422
    assert_valid("error", answer.json)
    assert field in answer.json["errors"]


def test_unknown_filter_names_the_supported_ones(bridge: Bridge) -> None:
    message = bridge.request("GET", f"{LISTING}?filter[userId]=1").json["errors"]["filter[userId]"][0]
    for name in ("chargePointId", "evseId", "status", "idTag", "startedAfter", "startedBefore"):
        assert f"filter[{name}]" in message


def test_an_unknown_session_is_404(bridge: Bridge) -> None:
    answer = bridge.request("GET", f"{LISTING}/404404")
    assert answer.status == 404
    assert_valid("error", answer.json)
