"""Bad input never gets a 5xx and never reaches the tenant; a signed AMPECO notification is always kept.

Most cases here were a 5xx, or were forwarded or stored, before the strict JSON reader and the id parser;
the rest guard the edges next to them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.tenant_sim import TenantSimulator
from tests.contract.schemas import example
from tests.harness import Bridge, push_secret, security_event, sign_push

START = "/public-api/actions/charge-point/v1.0/12/start/3"
EVSE_START = "/public-api/actions/evse/v1.0/7/start"
EVENTS = "/public-api/resources/security-events/v2.0"
PUSH = "/webhooks/charge-points/{}/security-events"
STATEFUL_TABLES = ("SecurityEventsTable", "AttemptsTable", "SessionsTable", "IdempotencyTable")

DEEP = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
ARABIC_INDIC_12 = "\u0661\u0662"  # ١٢
FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


def stored(bridge: Bridge) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table a request can write, by table (empty lists when nothing was stored)."""
    return {table: bridge.table_items(table) for table in STATEFUL_TABLES}


def nothing_stored(bridge: Bridge) -> bool:
    return all(items == [] for items in stored(bridge).values())


def notification_records(bridge: Bridge) -> list[dict[str, Any]]:
    return [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "notification"]


def assert_quarantined(bridge: Bridge, body: bytes, reason_part: str) -> None:
    """One record, quarantined as unknown, with the body kept byte for byte and nothing else stored."""
    [record] = notification_records(bridge)
    assert record["status"]["S"] == "quarantined"
    assert record["notification"]["S"] == "unknown"
    assert reason_part in record["reason"]["S"]
    assert record["bodyEncoding"]["S"] == "utf-8"
    assert record["body"]["S"].encode("utf-8") == body
    assert len(bridge.table_items("SecurityEventsTable")) == 1
    assert bridge.table_items("SessionsTable") == []


def assert_refused(answer: Any, status: int) -> None:
    """A 4xx in AMPECO's error format, without a trace."""
    assert answer.status == status
    assert isinstance(answer.json["message"], str)
    assert "Traceback" not in answer.text


# ---------------------------------------------------------------------- JSON nested absurdly deep
@pytest.mark.parametrize("path", [START, EVSE_START])
def test_a_start_body_nested_absurdly_deep_is_400_and_never_forwarded(
    bridge: Bridge, tenant: TenantSimulator, path: str
) -> None:
    calls = len(tenant.calls)

    answer = bridge.request("POST", path, body=DEEP, headers={"Idempotency-Key": "deep"})

    assert_refused(answer, 400)
    assert nothing_stored(bridge)
    assert len(tenant.calls) == calls


def test_a_signed_push_nested_absurdly_deep_is_400_and_stores_nothing(bridge: Bridge) -> None:
    answer = bridge.push(1, DEEP)

    assert_refused(answer, 400)
    assert nothing_stored(bridge)


def test_a_push_nested_just_past_the_limit_is_400_not_a_field_error(bridge: Bridge) -> None:
    body = b'{"events": ' + b"[" * 150 + b"]" * 150 + b"}"

    assert_refused(bridge.push(1, body), 400)
    assert nothing_stored(bridge)


def test_a_signed_notification_nested_absurdly_deep_is_acknowledged_and_quarantined(bridge: Bridge) -> None:
    body = b'{"notification": "SecurityEventNotification", "x": ' + DEEP + b"}"

    answer = bridge.notify(body)

    assert answer.status == 202
    assert_quarantined(bridge, body, "JSON")


# ---------------------------------------------------------------------- lone surrogates
def test_a_signed_notification_whose_kind_is_a_lone_surrogate_is_acknowledged_and_quarantined(
    bridge: Bridge,
) -> None:
    body = b'{"notification":"\\ud800"}'

    answer = bridge.notify(body)

    assert answer.status == 202
    assert_quarantined(bridge, body, "JSON")


def test_a_lone_surrogate_inside_a_security_event_notification_is_quarantined(bridge: Bridge) -> None:
    document = example("notification_security_event")
    body = json.dumps(document).replace('"techInfo": "', '"techInfo": "\\udfff').encode()
    assert b"\\udfff" in body

    assert bridge.notify(body).status == 202
    assert_quarantined(bridge, body, "JSON")


@pytest.mark.parametrize("path", [START, EVSE_START])
def test_a_start_body_with_a_lone_surrogate_is_400_and_never_forwarded(
    bridge: Bridge, tenant: TenantSimulator, path: str
) -> None:
    calls = len(tenant.calls)

    answer = bridge.request("POST", path, body=b'{"idTag": "A\\ud800"}')

    assert_refused(answer, 400)
    assert nothing_stored(bridge)
    assert len(tenant.calls) == calls


def test_a_push_with_a_lone_surrogate_is_400_and_stores_nothing(bridge: Bridge) -> None:
    body = json.dumps(security_event(tech_info="x")).replace('"techInfo": "x', '"techInfo": "\\ud800').encode()

    assert_refused(bridge.push(1, body), 400)
    assert nothing_stored(bridge)


# ---------------------------------------------------------------------- fields that make a record too big
def test_a_signed_notification_with_a_210_kb_kind_is_acknowledged_and_kept_whole(bridge: Bridge) -> None:
    body = json.dumps({"notification": "N" * 210_000}).encode()

    answer = bridge.notify(body)

    assert answer.status == 202
    assert_quarantined(bridge, body, "notification")


def test_a_signed_notification_near_the_size_cap_is_acknowledged_and_kept_whole(bridge: Bridge) -> None:
    padding = "x" * (256 * 1024 - 200)
    body = json.dumps({"notification": "SecurityEventNotification", "chargePointId": padding}).encode()

    assert bridge.notify(body).status == 202
    [record] = notification_records(bridge)
    assert record["status"]["S"] == "quarantined"
    assert record["body"]["S"].encode() == body


@pytest.mark.parametrize("kind", ["", "Session\nUpdate", "\u0000", "Notif\u200b"])
def test_a_notification_kind_that_is_not_a_printable_name_is_quarantined_as_unknown(bridge: Bridge, kind: str) -> None:
    body = json.dumps({"notification": kind}).encode()

    assert bridge.notify(body).status == 202
    assert_quarantined(bridge, body, "notification")


def test_a_repeat_of_a_quarantined_notification_is_acknowledged_and_stored_once(bridge: Bridge) -> None:
    body = b'{"notification":"\\ud800"}'

    assert bridge.notify(body).status == 202
    assert bridge.notify(body).status == 200

    assert len(notification_records(bridge)) == 1


# ---------------------------------------------------------------------- NaN, Infinity, overflow
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
@pytest.mark.parametrize("path", [START, EVSE_START])
def test_a_start_body_with_a_number_json_has_not_is_400_and_never_forwarded(
    bridge: Bridge, tenant: TenantSimulator, path: str, number: str
) -> None:
    calls = len(tenant.calls)

    answer = bridge.request("POST", path, body=f'{{"idTag": "A", "futureField": {number}}}')

    assert_refused(answer, 400)
    assert nothing_stored(bridge)
    assert len(tenant.calls) == calls


@pytest.mark.parametrize("number", ["NaN", "-Infinity", "1e400"])
def test_a_push_with_a_number_json_has_not_is_400(bridge: Bridge, number: str) -> None:
    body = f'{{"type": "FirmwareUpdated", "timestamp": "2026-01-01T10:00:00Z", "extra": {number}}}'

    assert_refused(bridge.push(1, body), 400)
    assert nothing_stored(bridge)


def test_a_signed_notification_with_nan_is_acknowledged_and_quarantined(bridge: Bridge) -> None:
    body = json.dumps(example("notification_security_event")).replace('"critical": true', '"critical": NaN').encode()
    assert b"NaN" in body

    assert bridge.notify(body).status == 202
    assert_quarantined(bridge, body, "JSON")
    assert bridge.relay() == 0


# ---------------------------------------------------------------------- ids in non-ASCII digits
@pytest.mark.parametrize(
    "path",
    [
        f"/public-api/actions/charge-point/v1.0/{ARABIC_INDIC_12}/start/3",
        f"/public-api/actions/charge-point/v1.0/12/start/{ARABIC_INDIC_12}",
        f"/public-api/actions/evse/v1.0/{ARABIC_INDIC_12}/start",
        "/public-api/actions/evse/v1.0/\uff19/start",
        "/public-api/actions/evse/v1.0/012/start",
    ],
)
def test_a_start_on_an_id_that_is_not_ascii_decimal_is_422_and_never_forwarded(
    bridge: Bridge, tenant: TenantSimulator, path: str
) -> None:
    calls = len(tenant.calls)

    answer = bridge.request("POST", path, body={"idTag": "A"})

    assert_refused(answer, 422)
    assert nothing_stored(bridge)
    assert len(tenant.calls) == calls


def test_a_security_event_read_by_its_id_in_fullwidth_digits_is_404(bridge: Bridge) -> None:
    [event_id] = bridge.push(1, security_event()).json["ids"]
    assert bridge.request("GET", f"{EVENTS}/{event_id}").status == 200

    answer = bridge.request("GET", f"{EVENTS}/{str(event_id).translate(FULLWIDTH)}")

    assert_refused(answer, 404)


def test_a_push_to_a_charge_point_in_non_ascii_digits_is_refused_and_stores_nothing(bridge: Bridge) -> None:
    answer = bridge.push(ARABIC_INDIC_12, security_event())

    assert answer.status in (401, 422)
    assert nothing_stored(bridge)


def test_a_webhook_timestamp_in_non_ascii_digits_is_401(bridge: Bridge) -> None:
    body = json.dumps(security_event()).encode()
    headers = sign_push(body, "msg_arabic_time", push_secret(1))
    arabic = str.maketrans("0123456789", "".join(chr(0x0660 + d) for d in range(10)))
    headers["webhook-timestamp"] = headers["webhook-timestamp"].translate(arabic)

    answer = bridge.request("POST", PUSH.format(1), body=body, headers=headers)

    assert_refused(answer, 401)
    assert nothing_stored(bridge)


@pytest.mark.parametrize(
    "query",
    [
        f"filter[chargePoint]={ARABIC_INDIC_12}",
        "filter[chargePoint]=\uff19",
        "filter[chargePoint]=012",
        f"per_page={ARABIC_INDIC_12}",
        "per_page=\u00b2",
    ],
)
def test_a_listing_filter_in_non_ascii_digits_is_422(bridge: Bridge, query: str) -> None:
    assert_refused(bridge.request("GET", f"{EVENTS}?{query}"), 422)


def test_a_session_whose_id_tag_is_longer_than_an_index_key_is_stored_unindexed(bridge: Bridge) -> None:
    # An index key takes at most 2048 bytes: indexing this idTag failed the write on every redelivery (503).
    notification = example("notification_session_start_stop")
    notification["idTag"] = "x" * 2049
    assert bridge.notify(notification).status == 202
    session_id = str(notification["sessionId"])
    read = bridge.request("GET", f"/public-api/resources/sessions/v1.0/{session_id}")
    assert (read.status, read.json["data"]["idTag"]) == (200, "x" * 2049)
    assert "idTag" not in bridge.table_items("SessionsTable")[0]
