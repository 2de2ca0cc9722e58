"""Direct security-log pushes: signature, validation, dedup, storage, relay to the subscriber queue."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from tests.contract.schemas import assert_valid
from tests.harness import OLD_WEBHOOK_SECRET, Bridge, push_secret, security_event, sign_push

LISTING = "/public-api/resources/security-events/v2.0"


def stored_events(bridge: Bridge) -> list[dict]:
    return [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "securityEvent"]


def test_signed_push_is_stored_listed_and_relayed_to_the_critical_queue(bridge: Bridge) -> None:
    # Given a signed push of one event
    answer = bridge.push(17, security_event("TamperDetectionActivated", "2026-11-25T10:00:00.123456+01:00", "lid open"))

    # Then it is accepted and listed in AMPECO's shape
    assert answer.status == 202
    [event_id] = answer.json["ids"]
    listing = bridge.request("GET", f"{LISTING}?filter[chargePoint]=17")
    assert listing.status == 200
    assert_valid("security_events_listing", listing.json)
    assert listing.json["data"] == [
        {
            "id": event_id,
            "chargePoint": 17,
            "type": "TamperDetectionActivated",
            "techInfo": "lid open",
            "timestamp": "2026-11-25T09:00:00.123456Z",
        }
    ]

    # And the relay publishes it once, routed by the template's own filter policy
    assert bridge.relay() == 1
    [message] = bridge.queue_messages("CriticalSecurityEventsQueue")
    body = json.loads(message["Body"])
    assert body["eventType"] == "security.event"
    assert body["occurredAt"] == "2026-11-25T09:00:00.123456Z"
    assert body["data"]["id"] == event_id
    attributes = {k: (v["DataType"], v["StringValue"]) for k, v in message["MessageAttributes"].items()}
    assert attributes == {
        "eventType": ("String", "security.event"),
        "eventId": ("String", body["eventId"]),
        "type": ("String", "TamperDetectionActivated"),
        "chargePoint": ("Number", "17"),
        "critical": ("String", "true"),
    }


def test_push_without_tech_info_lists_an_empty_string(bridge: Bridge) -> None:
    answer = bridge.push(3, security_event("ResetOrReboot"))
    assert answer.status == 202
    read = bridge.request("GET", f"{LISTING}/{answer.json['ids'][0]}")
    assert read.status == 200
    assert_valid("security_event_read", read.json)
    assert read.json["data"]["techInfo"] == ""


def test_batch_push_stores_every_event_in_one_write(bridge: Bridge) -> None:
    bridge.count_dynamodb_calls()
    events = [security_event(t) for t in ("FirmwareUpdated", "SettingSystemTime", "MemoryExhaustion")]

    answer = bridge.push(9, {"events": events})

    assert answer.status == 202
    assert len(set(answer.json["ids"])) == 3
    assert dict(bridge.dynamodb_calls) == {"TransactWriteItems": 1}
    assert len(stored_events(bridge)) == 3
    assert bridge.relay() == 3


def test_single_push_costs_one_conditional_put_with_three_index_keys(bridge: Bridge) -> None:
    bridge.count_dynamodb_calls()
    assert bridge.push(9, security_event()).status == 202
    assert dict(bridge.dynamodb_calls) == {"PutItem": 1}
    [item] = stored_events(bridge)
    assert {"cpKey", "typeKey", "cpTypeKey"} <= item.keys()


def test_repeated_delivery_is_acknowledged_stored_once_and_relayed_once(bridge: Bridge) -> None:
    body = json.dumps(security_event("StartupOfTheDevice")).encode()
    first = bridge.push(5, body, webhook_id="msg_repeat")
    again = bridge.push(5, body, webhook_id="msg_repeat")

    assert (first.status, again.status) == (202, 200)
    assert first.json["ids"] == again.json["ids"]
    assert len(stored_events(bridge)) == 1
    assert bridge.relay() == 1
    assert len(bridge.queue_messages("CriticalSecurityEventsQueue")) == 1


def test_same_webhook_id_from_another_charge_point_is_another_event(bridge: Bridge) -> None:
    body = json.dumps(security_event("StartupOfTheDevice", "2026-11-25T10:00:00Z")).encode()
    assert bridge.push(5, body, webhook_id="msg_shared").status == 202
    assert bridge.push(6, body, webhook_id="msg_shared").status == 202
    assert len(stored_events(bridge)) == 2


def test_concurrent_repeats_store_one_event(bridge: Bridge) -> None:
    # Given eight deliveries of the same message racing each other (moto serialised, as DynamoDB is per item)
    body = json.dumps(security_event("ResetOrReboot", "2026-11-25T10:00:00Z")).encode()
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def deliver() -> None:
        barrier.wait()
        statuses.append(bridge.push(44, body, webhook_id="msg_race").status)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then exactly one is new, all are acknowledged, one event is stored and relayed
    assert sorted(statuses) == [200] * 7 + [202]
    assert len(stored_events(bridge)) == 1
    assert bridge.relay() == 1


def test_events_at_the_same_millisecond_from_many_charge_points_all_get_distinct_ids(bridge: Bridge) -> None:
    # A power cut restored: many charge points report the same second; ids collide by slot and probe on.
    ids = set()
    for charge_point in range(1, 41):
        answer = bridge.push(charge_point, security_event("StartupOfTheDevice", "2026-11-25T06:00:00Z"))
        assert answer.status == 202
        ids.update(answer.json["ids"])
    assert len(ids) == 40
    assert len(bridge.request("GET", f"{LISTING}?filter[type]=StartupOfTheDevice").json["data"]) == 40


# ---------------------------------------------------------------------- authenticity
def test_push_signed_with_the_previous_secret_during_rotation_is_accepted(bridge: Bridge) -> None:
    assert bridge.push(1, security_event(), master=OLD_WEBHOOK_SECRET).status == 202


def test_push_with_several_signatures_and_a_malformed_first_entry_is_accepted(bridge: Bridge) -> None:
    raw = json.dumps(security_event()).encode()
    headers = sign_push(raw, "msg_multi", push_secret(1))
    headers["webhook-signature"] = "garbage v1,AAAA " + headers["webhook-signature"]
    answer = bridge.request("POST", "/webhooks/charge-points/1/security-events", body=raw, headers=headers)
    assert answer.status == 202


WRONG_SECRET = "whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="


@pytest.mark.parametrize(
    ("case", "mutate"),
    [
        ("no headers", lambda h: {}),
        ("no signature", lambda h: {k: v for k, v in h.items() if k != "webhook-signature"}),
        ("no id", lambda h: {k: v for k, v in h.items() if k != "webhook-id"}),
        ("no timestamp", lambda h: {k: v for k, v in h.items() if k != "webhook-timestamp"}),
        ("junk timestamp", lambda h: {**h, "webhook-timestamp": "soon"}),
        ("stale timestamp", lambda h: {**h, "webhook-timestamp": str(int(time.time()) - 301)}),
        ("future timestamp", lambda h: {**h, "webhook-timestamp": str(int(time.time()) + 301)}),
        ("wrong version", lambda h: {**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}),
        ("tampered signature", lambda h: {**h, "webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}),
    ],
)
def test_push_with_bad_signature_headers_is_401_and_stores_nothing(bridge: Bridge, case: str, mutate) -> None:
    raw = json.dumps(security_event()).encode()
    headers = mutate(sign_push(raw, f"msg_{uuid.uuid4().hex}", push_secret(1)))
    answer = bridge.request("POST", "/webhooks/charge-points/1/security-events", body=raw, headers=headers)
    assert answer.status == 401, case
    assert_valid("error", answer.json)
    assert stored_events(bridge) == []


def test_push_signed_with_an_unknown_secret_is_401(bridge: Bridge) -> None:
    assert bridge.push(1, security_event(), secret=WRONG_SECRET).status == 401


def test_signature_over_other_bytes_is_401(bridge: Bridge) -> None:
    raw = json.dumps(security_event()).encode()
    headers = sign_push(raw, "msg_x", push_secret(1))
    tampered = raw.replace(b"FirmwareUpdated", b"ResetOrReboot")
    answer = bridge.request("POST", "/webhooks/charge-points/1/security-events", body=tampered, headers=headers)
    assert answer.status == 401


def test_unsigned_malformed_body_is_401_not_422(bridge: Bridge) -> None:
    answer = bridge.request("POST", "/webhooks/charge-points/1/security-events", body=b"{not json")
    assert answer.status == 401


def test_body_over_256_kib_is_413_before_the_signature_is_checked(bridge: Bridge) -> None:
    answer = bridge.request("POST", "/webhooks/charge-points/1/security-events", body=b"x" * (256 * 1024 + 1))
    assert answer.status == 413
    assert_valid("error", answer.json)


def test_non_utf8_body_is_401(bridge: Bridge) -> None:
    raw = b"\xff\xfe{}"
    headers = sign_push(raw, "msg_bin", push_secret(1))
    answer = bridge.request("POST", "/webhooks/charge-points/1/security-events", body=raw, headers=headers)
    assert answer.status == 401


# ---------------------------------------------------------------------- validation
NOW = "2026-11-25T10:00:00Z"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "NotAType", "timestamp": NOW}, "type"),
        ({"type": "InvalidMessages", "timestamp": NOW}, "type"),  # an OCPP type, but not a critical one
        ({"type": 7, "timestamp": NOW}, "type"),
        ({"timestamp": NOW}, "type"),
        ({"type": "FirmwareUpdated"}, "timestamp"),
        ({"type": "FirmwareUpdated", "timestamp": "2026-11-25T10:00:00"}, "timestamp"),
        ({"type": "FirmwareUpdated", "timestamp": "yesterday"}, "timestamp"),
        ({"type": "FirmwareUpdated", "timestamp": 1764064800}, "timestamp"),
        ({"type": "FirmwareUpdated", "timestamp": "1764064800"}, "timestamp"),
        ({"type": "FirmwareUpdated", "timestamp": "1969-12-31T23:59:59Z"}, "timestamp"),
        ({"type": "FirmwareUpdated", "timestamp": NOW, "techInfo": "x" * 256}, "techInfo"),
        ({"type": "FirmwareUpdated", "timestamp": NOW, "techInfo": 5}, "techInfo"),
        ({"type": "FirmwareUpdated", "timestamp": NOW, "extra": 1}, "extra"),
        ({"events": []}, "events"),
        ({"events": [security_event()] * 101}, "events"),
        ({"events": [security_event(), {"type": "Nope", "timestamp": NOW}]}, "events.1.type"),
        ({"events": [security_event()], "more": True}, "more"),
        ([security_event()], None),
        (b'"just a string"', None),
        (b"42", None),
    ],
)
def test_invalid_push_is_422_and_stores_nothing(bridge: Bridge, body, field: str | None) -> None:
    answer = bridge.push(1, body)
    assert answer.status == 422
    assert_valid("error", answer.json)
    if field:
        assert field in answer.json["errors"], answer.json
    assert stored_events(bridge) == []
    assert bridge.relay() == 0


def test_malformed_json_that_is_signed_is_400(bridge: Bridge) -> None:
    answer = bridge.push(1, b'{"type": ')
    assert answer.status == 400
    assert_valid("error", answer.json)


@pytest.mark.parametrize("charge_point", ["abc", "0", "-1", "9007199254740993", "1.5"])
def test_push_for_an_invalid_charge_point_is_422(bridge: Bridge, charge_point: str) -> None:
    answer = bridge.push(charge_point, security_event())
    assert answer.status == 422
    assert "chargePoint" in answer.json["errors"]
