"""Edges found in review: extreme values, colliding slots, changed redeliveries, faults around the tenant call."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from local.tenant_sim import TenantSimulator
from tests.contract.schemas import example
from tests.harness import Bridge, fault, security_event

EVENTS = "/public-api/resources/security-events/v2.0"
SESSIONS = "/public-api/resources/sessions/v1.0"
START = "/public-api/actions/charge-point/v1.0/12/start/3"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_instants_without_a_utc_form_are_bad_input_everywhere(bridge: Bridge, moment: str) -> None:
    for name in ("timestampFrom", "timestampTo"):
        assert bridge.request("GET", f"{EVENTS}?{urlencode({f'filter[{name}]': moment})}").status == 422
    for name in ("startedAfter", "startedBefore"):
        assert bridge.request("GET", f"{SESSIONS}?{urlencode({f'filter[{name}]': moment})}").status == 422
    assert bridge.push(1, {"type": "FirmwareUpdated", "timestamp": moment}).status == 422
    notification = {**example("notification_security_event"), "timestamp": moment}
    assert bridge.notify(notification).status == 202
    update = example("notification_session_update")
    update["session"]["startedAt"] = moment
    assert bridge.notify(update).status == 202
    statuses = [i["status"]["S"] for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "notification"]
    assert statuses == ["quarantined", "quarantined"]


def test_a_webhook_timestamp_beyond_the_calendar_is_401(bridge: Bridge) -> None:
    assert bridge.push(1, security_event(), timestamp=999999999999).status == 401


@pytest.mark.parametrize("limit", ["1e400", "-1e400"])
def test_an_infinite_charging_limit_is_not_json_400(bridge: Bridge, limit: str) -> None:
    body = (
        '{"chargingProfile": {"stackLevel": 1, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": '
        '"Absolute", "chargingSchedule": {"chargingRateUnit": "A", "chargingSchedulePeriod": '
        f'[{{"startPeriod": 0, "limit": {limit}}}]}}}}}}'
    )
    assert bridge.request("POST", START, body=body).status == 400


@pytest.mark.parametrize("value", ["1.0", "+1", " 1", "1e3"])
def test_numeric_filters_take_digits_only(bridge: Bridge, value: str) -> None:
    assert bridge.request("GET", f"{EVENTS}?{urlencode({'filter[chargePoint]': value})}").status == 422
    assert bridge.request("GET", f"{SESSIONS}?{urlencode({'filter[evseId]': value})}").status == 422
    assert bridge.request("GET", f"{EVENTS}?{urlencode({'per_page': value})}").status == 422


def test_a_batch_of_events_at_one_instant_gets_distinct_ids(bridge: Bridge) -> None:
    events = [security_event("FirmwareUpdated", "2026-01-01T10:00:00Z") for _ in range(100)]
    answer = bridge.push(1, {"events": events})
    assert answer.status == 202
    assert len(set(answer.json["ids"])) == 100


def test_a_redelivery_that_grew_stores_the_new_events_and_every_id_resolves(bridge: Bridge) -> None:
    first = [security_event("FirmwareUpdated", "2026-01-01T10:00:00Z")]
    bridge.push(1, {"events": first}, webhook_id="msg_grow")
    grown = bridge.push(
        1, {"events": [*first, security_event("ResetOrReboot", "2026-01-01T10:00:01Z")]}, webhook_id="msg_grow"
    )
    assert grown.status == 202
    for event_id in grown.json["ids"]:
        assert bridge.request("GET", f"{EVENTS}/{event_id}").status == 200


def test_a_changed_body_under_one_webhook_id_is_another_message(bridge: Bridge) -> None:
    bridge.push(1, security_event("FirmwareUpdated", "2026-01-01T10:00:00Z"), webhook_id="msg_changed")
    bridge.push(1, security_event("FirmwareUpdated", "2026-01-01T10:00:05Z"), webhook_id="msg_changed")
    assert bridge.relay() == 2
    ids = {json.loads(m["Body"])["eventId"] for m in bridge.queue_messages("CriticalSecurityEventsQueue")}
    assert len(ids) == 2


def test_a_cursor_from_the_other_listing_is_422(bridge: Bridge) -> None:
    for n in range(3):
        bridge.push(1, security_event("FirmwareUpdated", f"2026-01-01T10:00:0{n}Z"))
        update = example("notification_session_update")
        update["session"].update({"id": str(100 + n), "startedAt": f"2026-01-01T10:00:0{n}Z"})
        bridge.notify(update)
    event_cursor = bridge.request("GET", f"{EVENTS}?per_page=1").json["meta"]["next_cursor"]
    session_cursor = bridge.request("GET", f"{SESSIONS}?per_page=1").json["meta"]["next_cursor"]
    assert bridge.request("GET", f"{SESSIONS}?{urlencode({'cursor': event_cursor})}").status == 422
    assert bridge.request("GET", f"{EVENTS}?{urlencode({'cursor': session_cursor})}").status == 422


def test_a_signed_body_that_is_not_utf8_is_acknowledged_and_kept_byte_for_byte(bridge: Bridge) -> None:
    assert bridge.notify(b"\xff" * 200_000).status == 202
    [record] = [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "notification"]
    assert record["bodyEncoding"]["S"] == "base64"


def test_a_token_that_cannot_be_read_is_503_before_any_attempt(bridge: Bridge, tenant: TenantSimulator) -> None:
    from bridge import secrets

    secrets.clear_cache()
    calls = len(tenant.calls)
    with fault("secretsmanager", "GetSecretValue") as token_unreadable:
        answer = bridge.request("POST", START, body={"idTag": "X"})
    assert token_unreadable.fired >= 1
    assert answer.status == 503
    assert answer.headers["retry-after"]
    assert bridge.table_items("AttemptsTable") == []
    assert len(tenant.calls) == calls


def test_a_storage_failure_on_a_listing_is_503_with_retry_after(bridge: Bridge) -> None:
    with fault("dynamodb", "Query") as query_refused:
        answer = bridge.request("GET", EVENTS)
    assert query_refused.fired >= 1
    assert answer.status == 503
    assert answer.headers["retry-after"] == "2"
    assert json.loads(answer.text) == {"message": "Storage is unavailable, retry shortly."}
