"""The security-events listing and read: filters, order, bounds, cursors, and never a Scan."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest

from local.aws import REGION
from tests.contract.schemas import assert_valid
from tests.harness import Bridge, security_event

LISTING = "/public-api/resources/security-events/v2.0"
TYPES = ("FirmwareUpdated", "ResetOrReboot", "TamperDetectionActivated")


@pytest.fixture
def seeded(bridge: Bridge) -> list[dict[str, Any]]:
    """18 events: 3 charge points x 3 types x 2 hours, oldest first."""
    seeded = []
    for hour, charge_point, type_ in itertools.product((8, 9), (1, 2, 3), TYPES):
        at = f"2026-11-25T{hour:02d}:{charge_point * 10 + TYPES.index(type_):02d}:00Z"
        answer = bridge.push(charge_point, security_event(type_, at))
        assert answer.status == 202
        seeded.append({"id": answer.json["ids"][0], "chargePoint": charge_point, "type": type_, "timestamp": at})
    return seeded


def listing(bridge: Bridge, **params: str) -> Any:
    answer = bridge.request("GET", f"{LISTING}?{urlencode(params)}" if params else LISTING)
    assert answer.status == 200, answer.text
    assert_valid("security_events_listing", answer.json)
    return answer.json


def expected(seeded: list[dict[str, Any]], **filters: Any) -> list[int]:
    def keep(event: dict[str, Any]) -> bool:
        if "type" in filters and event["type"] != filters["type"]:
            return False
        if "chargePoint" in filters and event["chargePoint"] != filters["chargePoint"]:
            return False
        if "timestampFrom" in filters and event["timestamp"] < filters["timestampFrom"]:
            return False
        return not ("timestampTo" in filters and event["timestamp"] > filters["timestampTo"])

    return [e["id"] for e in sorted(filter(keep, seeded), key=lambda e: e["timestamp"], reverse=True)]


FILTER_SETS = [
    dict(combo)
    for n in range(5)
    for combo in itertools.combinations(
        [
            ("type", "ResetOrReboot"),
            ("chargePoint", 2),
            ("timestampFrom", "2026-11-25T08:20:00Z"),
            ("timestampTo", "2026-11-25T09:21:00Z"),
        ],
        n,
    )
]


@pytest.mark.parametrize("filters", FILTER_SETS, ids=lambda f: "+".join(f) or "none")
def test_every_filter_combination_is_one_query_reading_only_what_it_returns(
    bridge: Bridge, seeded: list[dict[str, Any]], filters: dict[str, Any]
) -> None:
    # Given the query counter and a record of every Query's Count and ScannedCount
    counts: list[tuple[int, int]] = []

    def record(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "Query":
            counts.append((parsed["Count"], parsed["ScannedCount"]))

    events = boto3_client_events()
    events.register("after-call.dynamodb.Query", record)
    bridge.count_dynamodb_calls()

    # When listing with the filters
    try:
        body = listing(bridge, **{f"filter[{k}]": str(v) for k, v in filters.items()})
    finally:
        events.unregister("after-call.dynamodb.Query", record)

    # Then the page is exactly the matching events, newest first, from one Query and no Scan
    assert [item["id"] for item in body["data"]] == expected(seeded, **filters)
    assert dict(bridge.dynamodb_calls) == {"Query": 1}
    assert len(counts) == 1
    assert counts[0][0] == counts[0][1]


def boto3_client_events() -> Any:
    from bridge.storage.dynamo import dynamodb_client

    return dynamodb_client().meta.events


def test_time_bounds_are_inclusive_to_the_millisecond(bridge: Bridge) -> None:
    first = bridge.push(1, security_event("FirmwareUpdated", "2026-11-25T10:00:00.100Z")).json["ids"][0]
    second = bridge.push(1, security_event("FirmwareUpdated", "2026-11-25T10:00:00.101Z")).json["ids"][0]
    page = listing(bridge, **{"filter[timestampFrom]": "2026-11-25T11:00:00.100+01:00"})
    assert [i["id"] for i in page["data"]] == [second, first]
    page = listing(bridge, **{"filter[timestampTo]": "2026-11-25T10:00:00.100Z"})
    assert [i["id"] for i in page["data"]] == [first]
    page = listing(
        bridge,
        **{"filter[timestampFrom]": "2026-11-25T10:00:00.101Z", "filter[timestampTo]": "2026-11-25T10:00:00.101Z"},
    )
    assert [i["id"] for i in page["data"]] == [second]


def test_an_unencoded_plus_in_an_offset_is_read_as_plus(bridge: Bridge) -> None:
    bridge.push(1, security_event("FirmwareUpdated", "2026-11-25T10:00:00Z"))
    answer = bridge.request("GET", f"{LISTING}?filter[timestampFrom]=2026-11-25T11:00:00+01:00")
    assert answer.status == 200
    assert len(answer.json["data"]) == 1


def test_pages_follow_links_next_through_every_event_once(bridge: Bridge, seeded: list[dict[str, Any]]) -> None:
    seen: list[int] = []
    page = listing(bridge, **{"filter[chargePoint]": "2", "per_page": "4"})
    pages = 1
    while page["links"]["next"]:
        seen += [i["id"] for i in page["data"]]
        link = urlsplit(page["links"]["next"])
        assert link.scheme == "https"
        assert link.netloc == "bridge.example.com"
        assert link.path == "/v1" + LISTING
        query = {k: v[0] for k, v in parse_qs(link.query).items()}
        assert query["filter[chargePoint]"] == "2"
        assert query["cursor"] == page["meta"]["next_cursor"]
        page = listing(bridge, **query)
        pages += 1
    seen += [i["id"] for i in page["data"]]
    assert seen == expected(seeded, chargePoint=2)
    assert pages == 2
    assert page["meta"]["next_cursor"] is None


def test_a_page_that_ends_exactly_at_the_last_item_has_no_next(bridge: Bridge, seeded: list[dict[str, Any]]) -> None:
    page = listing(bridge, **{"filter[chargePoint]": "1", "per_page": "6"})
    assert len(page["data"]) == 6
    assert page["links"]["next"] is None


def test_an_empty_cursor_asks_for_the_first_page(bridge: Bridge, seeded: list[dict[str, Any]]) -> None:
    assert listing(bridge, cursor="", per_page="3")["data"] == listing(bridge, per_page="3")["data"]


def test_a_tampered_cursor_is_422(bridge: Bridge, seeded: list[dict[str, Any]]) -> None:
    cursor = listing(bridge, per_page="2")["meta"]["next_cursor"]
    payload, signature = cursor.split(".")
    for bad in (payload + "x." + signature, payload + "." + signature[:-2] + "AA", "junk", "a.b.c", "."):
        answer = bridge.request("GET", f"{LISTING}?{urlencode({'per_page': '2', 'cursor': bad})}")
        assert answer.status == 422, bad
        assert "cursor" in answer.json["errors"]


def test_a_cursor_from_other_filters_is_422(bridge: Bridge, seeded: list[dict[str, Any]]) -> None:
    cursor = listing(bridge, **{"filter[type]": "ResetOrReboot", "per_page": "2"})["meta"]["next_cursor"]
    answer = bridge.request("GET", f"{LISTING}?{urlencode({'filter[type]': 'FirmwareUpdated', 'cursor': cursor})}")
    assert answer.status == 422


def test_a_cursor_signed_with_the_previous_secret_stays_valid_during_rotation(
    bridge: Bridge, seeded: list[dict[str, Any]]
) -> None:
    from bridge import secrets

    cursor = listing(bridge, per_page="2")["meta"]["next_cursor"]
    client = boto3.client("secretsmanager", region_name=REGION)
    client.put_secret_value(SecretId="CursorSecret", SecretString="rotated-cursor-secret")
    secrets.clear_cache()

    answer = bridge.request("GET", f"{LISTING}?{urlencode({'per_page': '2', 'cursor': cursor})}")
    assert answer.status == 200
    assert len(answer.json["data"]) == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("filter[status]=x", "filter[status]"),
        ("filter[type]=InvalidMessages", "filter[type]"),
        ("filter[type]=", "filter[type]"),
        ("filter[chargePoint]=abc", "filter[chargePoint]"),
        ("filter[chargePoint]=-3", "filter[chargePoint]"),
        ("filter[timestampFrom]=yesterday", "filter[timestampFrom]"),
        ("filter[timestampTo]=2026-11-25T10:00:00", "filter[timestampTo]"),
        ("filter[timestampTo]=1764064800", "filter[timestampTo]"),
        (
            "filter[timestampFrom]=2026-11-26T00:00:00Z&filter[timestampTo]=2026-11-25T00:00:00Z",
            "filter[timestampFrom]",
        ),
        ("filter=x", "filter"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=ten", "per_page"),
    ],
)
def test_junk_in_the_query_is_422_in_ampeco_error_format(bridge: Bridge, query: str, field: str) -> None:
    answer = bridge.request("GET", f"{LISTING}?{query}")
    assert answer.status == 422
    assert_valid("error", answer.json)
    assert field in answer.json["errors"]


def test_unknown_filter_names_the_supported_ones(bridge: Bridge) -> None:
    answer = bridge.request("GET", f"{LISTING}?filter[colour]=red")
    assert "filter[chargePoint]" in answer.json["errors"]["filter[colour]"][0]


def test_read_by_id_and_unknown_ids(bridge: Bridge) -> None:
    event_id = bridge.push(4, security_event("MemoryExhaustion")).json["ids"][0]
    bridge.count_dynamodb_calls()
    assert bridge.request("GET", f"{LISTING}/{event_id}").json["data"]["id"] == event_id
    assert dict(bridge.dynamodb_calls) == {"GetItem": 1}
    for unknown in (str(event_id + 1), "abc", "-1", "99999999999999999999"):
        answer = bridge.request("GET", f"{LISTING}/{unknown}")
        assert answer.status == 404, unknown
        assert_valid("error", answer.json)


def test_client_routes_require_an_api_key_in_the_template(bridge: Bridge) -> None:
    routes = {(r.method, r.path): r.api_key_required for r in bridge.stack.template.routes()}
    assert routes[("GET", LISTING)] is True
    assert routes[("GET", LISTING + "/{securityEvent}")] is True
    assert routes[("GET", "/health")] is False
    assert routes[("POST", "/webhooks/ampeco")] is False
