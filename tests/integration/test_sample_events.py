"""The sample events in events/ (for `sam local invoke -e`) run through the real handlers on moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.lambda_runtime import handler_invoker, make_context
from tests.contract.schemas import assert_valid, example
from tests.harness import Bridge, push_secret, security_event, sign_push

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
LISTING = "/public-api/resources/security-events/v2.0"

# Every sample a test below runs; registered at import, so the coverage check does not depend on test order.
USED: set[str] = set()

Test = Callable[..., None]


def uses(*names: str) -> Callable[[Test], Test]:
    """Mark a test as the one that runs these sample files."""

    def register(test: Test) -> Test:
        USED.update(names)
        return test

    return register


# ---------------------------------------------------------------------- helpers
def load(name: str) -> dict[str, Any]:
    with (EVENTS_DIR / name).open(encoding="utf-8") as f:
        event: dict[str, Any] = json.load(f)
    return event


def invoke(bridge: Bridge, function: str, event: dict[str, Any]) -> dict[str, Any]:
    template = bridge.stack.template
    result: dict[str, Any] = handler_invoker(template)(function, event, make_context(template, function))
    return result


def body_of(result: dict[str, Any]) -> Any:
    text = result.get("body") or ""
    if result.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    return json.loads(text)


def set_header(event: dict[str, Any], name: str, value: str) -> None:
    """Replace a header's value in both maps, whatever case the sample spells it in."""
    found = False
    for key in list(event["headers"]):
        if key.lower() == name.lower():
            event["headers"][key] = value
            found = True
    for key in list(event["multiValueHeaders"]):
        if key.lower() == name.lower():
            event["multiValueHeaders"][key] = [value]
            found = True
    assert found, f"the sample has no {name} header"


def header(event: dict[str, Any], name: str) -> str:
    return next(v for k, v in event["headers"].items() if k.lower() == name.lower())


def freshly_signed(name: str) -> dict[str, Any]:
    """A push sample re-signed now: its stored webhook-timestamp is long outside the tolerance."""
    event = load(name)
    assert not event["isBase64Encoded"]
    charge_point = event["pathParameters"]["chargePoint"]
    signed = sign_push(event["body"].encode(), header(event, "webhook-id"), push_secret(charge_point))
    for key, value in signed.items():
        set_header(event, key, value)
    return event


def listed(bridge: Bridge, query: str) -> list[dict[str, Any]]:
    answer = bridge.request("GET", f"{LISTING}?{query}")
    assert answer.status == 200
    data: list[dict[str, Any]] = answer.json["data"]
    return data


def seed(bridge: Bridge) -> int:
    answer = bridge.push(23, security_event("TamperDetectionActivated", "2026-03-14T08:00:00.250Z", "seeded"))
    assert answer.status == 202
    [event_id] = answer.json["ids"]
    return int(event_id)


# ---------------------------------------------------------------------- webhooks
@uses("webhooks_security_event_push.json")
def test_push_sample_is_accepted_and_listed(bridge: Bridge) -> None:
    event = freshly_signed("webhooks_security_event_push.json")
    pushed = json.loads(event["body"])

    result = invoke(bridge, "WebhooksFunction", event)

    assert result["statusCode"] == 202, result
    [event_id] = body_of(result)["ids"]
    assert listed(bridge, "filter[chargePoint]=17") == [
        {
            "id": event_id,
            "chargePoint": 17,
            "type": pushed["type"],
            "techInfo": pushed["techInfo"],
            "timestamp": pushed["timestamp"],
        }
    ]
    # The same delivery again is a repeat: acknowledged with the same id, not stored twice.
    again = invoke(bridge, "WebhooksFunction", event)
    assert (again["statusCode"], body_of(again)["ids"]) == (200, [event_id])


@uses("webhooks_security_event_batch.json")
def test_batch_sample_is_accepted_and_every_event_listed(bridge: Bridge) -> None:
    event = freshly_signed("webhooks_security_event_batch.json")
    pushed = json.loads(event["body"])["events"]
    assert len(pushed) == 3

    result = invoke(bridge, "WebhooksFunction", event)

    assert result["statusCode"] == 202, result
    ids = body_of(result)["ids"]
    assert len(set(ids)) == 3
    data = listed(bridge, "filter[chargePoint]=17")
    assert sorted(item["id"] for item in data) == sorted(ids)
    assert sorted(item["type"] for item in data) == sorted(e["type"] for e in pushed)


@uses("webhooks_ampeco_security_notification.json")
def test_ampeco_notification_sample_is_accepted_and_stored(bridge: Bridge) -> None:
    event = load("webhooks_ampeco_security_notification.json")
    notification = json.loads(event["body"])
    assert notification == example("notification_security_event")

    # AMPECO's signature covers the body only, so the stored sample needs no re-signing.
    result = invoke(bridge, "WebhooksFunction", event)

    assert result["statusCode"] == 202, result
    [item] = listed(bridge, f"filter[chargePoint]={notification['chargePointId']}")
    assert (item["type"], item["techInfo"]) == (notification["type"], notification["techInfo"])
    [stored] = [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "securityEvent"]
    assert stored["deliveryTenant"]["S"] == header(event, "x-tenant")
    assert stored["deliverySignedAt"]["S"] == header(event, "x-timestamp")


# ---------------------------------------------------------------------- queries
@uses("queries_list_security_events.json")
def test_listing_sample_returns_the_seeded_event(bridge: Bridge) -> None:
    event_id = seed(bridge)
    bridge.push(23, security_event("FirmwareUpdated"))  # filtered out by filter[type]
    event = load("queries_list_security_events.json")
    assert event["queryStringParameters"]["filter[type]"] == "TamperDetectionActivated"
    assert event["requestContext"]["identity"]["apiKeyId"]

    result = invoke(bridge, "QueriesFunction", event)

    assert result["statusCode"] == 200, result
    body = body_of(result)
    assert_valid("security_events_listing", body)
    assert [item["id"] for item in body["data"]] == [event_id]
    assert body["meta"]["per_page"] == int(event["queryStringParameters"]["per_page"])
    assert body["meta"]["path"] == f"https://{event['requestContext']['domainName']}/v1{LISTING}"


@uses("queries_read_security_event.json")
def test_read_sample_returns_the_seeded_event(bridge: Bridge) -> None:
    event_id = seed(bridge)
    event = load("queries_read_security_event.json")
    stored_id = event["pathParameters"]["securityEvent"]
    for holder, key in ((event, "path"), (event["requestContext"], "path")):
        assert holder[key].endswith(f"/{stored_id}")
        holder[key] = holder[key].removesuffix(stored_id) + str(event_id)
    event["pathParameters"]["securityEvent"] = str(event_id)

    result = invoke(bridge, "QueriesFunction", event)

    assert result["statusCode"] == 200, result
    body = body_of(result)
    assert_valid("security_event_read", body)
    assert body["data"]["id"] == event_id
    assert body["data"]["techInfo"] == "seeded"


@uses("queries_health.json")
def test_health_sample_answers_ok(bridge: Bridge) -> None:
    result = invoke(bridge, "QueriesFunction", load("queries_health.json"))
    assert result["statusCode"] == 200, result
    assert body_of(result) == {"status": "ok"}


# ---------------------------------------------------------------------- relay
@uses("relay_security_event_insert.json")
def test_relay_sample_reaches_the_critical_queue(bridge: Bridge) -> None:
    event = load("relay_security_event_insert.json")
    [record] = event["Records"]
    image = record["dynamodb"]["NewImage"]
    assert (record["eventName"], image["kind"]["S"], image["pk"]["S"]) == ("INSERT", "securityEvent", "SE")

    result = invoke(bridge, "RelayFunction", event)

    assert result == {"batchItemFailures": []}
    [message] = bridge.queue_messages("CriticalSecurityEventsQueue")
    body = json.loads(message["Body"])
    assert body["eventId"] == image["eventId"]["S"]
    assert body["data"]["id"] == int(image["sk"]["N"])
    assert body["data"]["type"] == image["eventType"]["S"]
    assert message["MessageAttributes"]["critical"]["StringValue"] == "true"
    assert message["MessageAttributes"]["chargePoint"]["StringValue"] == image["chargePoint"]["N"]


# ---------------------------------------------------------------------- no sample can rot
@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS_DIR.glob("*.json")))
def test_every_sample_is_run_by_a_test(name: str) -> None:
    assert name in USED, f"events/{name} is not run by any test in {Path(__file__).name}"


def test_every_sample_a_test_names_exists() -> None:
    assert {p.name for p in EVENTS_DIR.glob("*.json")} >= USED
