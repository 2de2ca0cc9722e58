"""AMPECO notifications: HMAC on the raw body, dedup on the bytes, quarantine instead of refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract.schemas import assert_valid, example
from tests.harness import Bridge, sign_ampeco

LISTING = "/public-api/resources/security-events/v2.0"


def notification(**overrides: Any) -> dict[str, Any]:
    body = example("notification_security_event")
    body.update(overrides)
    return body


def records(bridge: Bridge, kind: str) -> list[dict[str, Any]]:
    return [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == kind]


def test_the_example_is_ampeco_shaped() -> None:
    assert_valid("notification_security_event", notification())


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_critical_notification_becomes_a_listed_event_relayed_as_critical(bridge: Bridge, encoding: str) -> None:
    body = notification(type="TamperDetectionActivated", chargePointId=77, critical=True, techInfo="door")

    answer = bridge.notify(body, encoding=encoding)

    assert answer.status == 202
    [item] = bridge.request("GET", f"{LISTING}?filter[chargePoint]=77").json["data"]
    assert item["type"] == "TamperDetectionActivated"
    assert item["techInfo"] == "door"
    assert bridge.relay() == 1
    [message] = bridge.queue_messages("CriticalSecurityEventsQueue")
    assert message["MessageAttributes"]["critical"]["StringValue"] == "true"
    assert json.loads(message["Body"])["data"]["channel"] == "ampeco"
    # The delivery is kept on its event: one item written, no separate record.
    [event] = records(bridge, "securityEvent")
    assert records(bridge, "notification") == []
    assert event["deliverySignedAt"]["S"] == "2026-11-25T10:00:00.000000Z"
    assert json.loads(event["deliveryBody"]["S"]) == body
    assert len(event["deliveryFingerprint"]["S"]) == 64


def test_non_critical_type_is_relayed_with_its_flag_but_not_listed(bridge: Bridge) -> None:
    body = notification(type="InvalidMessages", chargePointId=78, critical=False)

    assert bridge.notify(body).status == 202

    assert bridge.request("GET", f"{LISTING}?filter[chargePoint]=78").json["data"] == []
    assert bridge.relay() == 1
    assert bridge.queue_messages("CriticalSecurityEventsQueue") == []  # the filter policy keeps it out
    [event] = records(bridge, "securityEvent")
    assert event["critical"]["BOOL"] is False
    assert bridge.request("GET", f"{LISTING}/{event['sk']['N']}").status == 404


def test_an_unknown_ocpp_type_is_accepted_as_an_open_string(bridge: Bridge) -> None:
    assert bridge.notify(notification(type="SomeFutureSecurityEvent", critical=True)).status == 202
    assert len(records(bridge, "securityEvent")) == 1


def test_the_senders_critical_flag_is_kept_even_on_a_critical_type(bridge: Bridge) -> None:
    assert bridge.notify(notification(type="FirmwareUpdated", critical=False)).status == 202
    assert bridge.relay() == 1
    assert bridge.queue_messages("CriticalSecurityEventsQueue") == []


def test_the_same_bytes_twice_are_one_delivery(bridge: Bridge) -> None:
    raw = json.dumps(notification()).encode()
    assert bridge.notify(raw).status == 202
    assert bridge.notify(raw).status == 200
    assert len(records(bridge, "securityEvent")) == 1
    assert records(bridge, "notification") == []
    assert bridge.relay() == 1


def test_another_delivery_of_the_same_occurrence_is_a_repeat_of_its_event(bridge: Bridge) -> None:
    first = notification(type="ResetOrReboot", chargePointId=91, timestamp="2026-11-25T12:00:00+02:00")
    again = {**first, "timestamp": "2026-11-25T10:00:00Z", "futureField": 1}  # other bytes, the same event

    assert bridge.notify(first).status == 202
    assert bridge.notify(again).status == 200
    assert len(records(bridge, "securityEvent")) == 1
    assert bridge.relay() == 1


def test_the_same_occurrence_pushed_and_notified_is_two_events(bridge: Bridge) -> None:
    at = "2026-11-25T10:00:00Z"
    bridge.push(90, {"type": "ResetOrReboot", "timestamp": at})
    bridge.notify(notification(type="ResetOrReboot", chargePointId=90, timestamp=at, critical=True))
    assert len(bridge.request("GET", f"{LISTING}?filter[chargePoint]=90").json["data"]) == 2


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (notification(chargePointId="77"), "chargePointId"),
        (notification(critical="true"), "critical"),
        (notification(timestamp="not a time"), "timestamp"),
        (notification(timestamp="2026-11-25T10:00:00"), "timestamp"),
        (notification(type=None), "type"),
        ({k: v for k, v in notification().items() if k != "critical"}, "critical"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "notification"),
    ],
)
def test_a_signed_body_we_cannot_use_is_acknowledged_and_quarantined(bridge: Bridge, body: Any, reason: str) -> None:
    answer = bridge.notify(body)

    assert answer.status == 202
    assert records(bridge, "securityEvent") == []
    [record] = records(bridge, "notification")
    assert record["status"]["S"] == "quarantined"
    assert reason in record["reason"]["S"]
    assert bridge.relay() == 0


def test_other_notification_types_are_recorded_as_unhandled(bridge: Bridge) -> None:
    answer = bridge.notify({"notification": "BootNotification", "chargePointId": 1})
    assert answer.status == 202
    [record] = records(bridge, "notification")
    assert record["status"]["S"] == "unhandled"
    assert record["notification"]["S"] == "BootNotification"
    assert int(record["expiresAt"]["N"]) > 0


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Signature": ""},
        {"X-Signature": "deadbeef"},
        {"X-Signature": sign_ampeco(b"other bytes", "test-ampeco-token")},
        {"X-Signature": sign_ampeco(json.dumps(notification()).encode(), "wrong-token")},
        {"X-Signature": "!!!not base64 or hex!!!"},
    ],
)
def test_a_bad_signature_is_401_and_records_nothing(bridge: Bridge, headers: dict[str, str]) -> None:
    raw = json.dumps(notification()).encode()
    answer = bridge.request("POST", "/webhooks/ampeco", body=raw, headers=headers)
    assert answer.status == 401
    assert_valid("error", answer.json)
    assert bridge.table_items("SecurityEventsTable") == []


def test_a_missing_signature_is_401(bridge: Bridge) -> None:
    answer = bridge.request("POST", "/webhooks/ampeco", body=json.dumps(notification()))
    assert answer.status == 401


def test_an_oversized_notification_is_413(bridge: Bridge) -> None:
    assert bridge.notify(b" " * (256 * 1024 + 1)).status == 413


def test_a_pinned_tenant_refuses_others(bridge: Bridge) -> None:
    import dataclasses

    from bridge import wiring
    from bridge.errors import Unauthenticated
    from bridge.webhooks import receive_notification

    deps = wiring.webhooks()
    pinned = dataclasses.replace(deps, settings=deps.settings.model_copy(update={"ampeco_tenant": "tenant-a"}))
    raw = json.dumps(notification()).encode()
    headers = {"x-signature": sign_ampeco(raw, "test-ampeco-token"), "x-tenant": "tenant-b"}
    with pytest.raises(Unauthenticated):
        receive_notification(pinned, raw, headers)
    assert bridge.table_items("SecurityEventsTable") == []
