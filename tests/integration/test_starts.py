"""Session starts through the real handler against the tenant simulator, down to the subscriber queues."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

import pytest

from bridge.error_codes import BILLING_CODES, ErrorCode
from local.tenant_sim import TenantSimulator
from tests.contract.schemas import assert_valid
from tests.harness import Answer, Bridge

CP_PATH = "/public-api/actions/charge-point/v1.0/{cp}/start/{evse}"
EVSE_PATH = "/public-api/actions/evse/v1.0/{evse}/start"


def start(
    bridge: Bridge, body: Any = None, *, cp: int = 12, evse: int = 3, headers: dict[str, str] | None = None
) -> Answer:
    return bridge.request("POST", CP_PATH.format(cp=cp, evse=evse), body=body, headers=headers)


def starts_module(bridge: Bridge) -> Any:
    from local.lambda_runtime import load_function

    return load_function(bridge.stack.template, "StartsFunction")


def with_tenant(bridge: Bridge, *, timeout_seconds: float | None = None, base_url: str | None = None) -> Any:
    """The starts function's dependencies with another tenant client (a shorter deadline, another URL)."""
    from bridge.tenant_client import TenantClient

    deps = starts_module(bridge).service.deps
    tenant = TenantClient(
        base_url or deps.settings.ampeco_base_url,
        lambda: deps.secret(deps.settings.ampeco_api_token_arn),
        timeout_seconds or deps.settings.ampeco_timeout_seconds,
    )
    return dataclasses.replace(deps, tenant=tenant)


def attempts(bridge: Bridge) -> list[dict[str, Any]]:
    from bridge.storage.attempts import from_item

    return [from_item(i) for i in bridge.table_items("AttemptsTable")]


def messages(bridge: Bridge, queue: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    return [
        (json.loads(m["Body"]), {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()})
        for m in bridge.queue_messages(queue)
    ]


def test_a_started_session_returns_the_tenants_202_and_relays_started(bridge: Bridge, tenant: TenantSimulator) -> None:
    calls_before = len(tenant.calls)
    answer = start(bridge, {"idTag": "FLEET-1", "userId": 10458, "futureField": {"x": 1}})

    assert answer.status == 202
    assert_valid("start_response_202", answer.json)
    assert answer.json["success"] is True
    attempt_id = answer.headers["x-bridge-attempt-id"]
    # unknown fields reach the tenant unchanged
    assert tenant.calls[calls_before].body == {"idTag": "FLEET-1", "userId": 10458, "futureField": {"x": 1}}
    [attempt] = attempts(bridge)
    assert attempt["attemptId"] == attempt_id
    assert (attempt["status"], attempt["outcome"]) == ("final", "started")
    assert attempt["sessionId"] == str(answer.json["sessionId"])
    assert "pendingKey" not in attempt

    assert bridge.relay() == 1
    assert messages(bridge, "FailedStartsQueue") == []
    [delivery] = [d for d in bridge.deliveries.all() if d["topic"] == "start-results"]
    assert delivery["attributes"] == {
        "eventType": "session.start.result",
        "eventId": attempt_id,
        "outcome": "started",
        "chargePoint": "12",
        "evseNetworkId": "3",
    }
    assert delivery["body"]["data"]["outcome"] == "started"
    assert delivery["body"]["data"]["errorCode"] is None


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_ampeco_error_code_is_answered_recorded_and_routed(bridge: Bridge, code: ErrorCode) -> None:
    answer = start(bridge, {"idTag": f"SIM:{code.value}"})

    assert answer.status == 202
    assert_valid("start_response_202", answer.json)
    assert answer.json == {
        "success": False,
        "sessionId": None,
        "authorizationId": None,
        "message": f"Simulated rejection: {code.value}.",
        "errorCode": code.value,
    }
    [attempt] = attempts(bridge)
    assert (attempt["outcome"], attempt["errorCode"]) == ("rejected", code.value)

    assert bridge.relay() == 1
    [(body, attributes)] = messages(bridge, "FailedStartsQueue")
    assert attributes["errorCode"] == code.value
    assert attributes["outcome"] == "rejected"
    assert body["data"]["errorCode"] == code.value
    billing = messages(bridge, "BillingProblemsQueue")
    assert len(billing) == (1 if code in BILLING_CODES else 0)


def test_the_billing_queue_receives_exactly_the_ten_billing_codes(bridge: Bridge) -> None:
    for code in ErrorCode:
        assert start(bridge, {"idTag": f"SIM:{code.value}"}).status == 202
    start(bridge, {"idTag": "SIM:SOME_FUTURE_CODE"})
    start(bridge, {"idTag": "FLEET-2"})
    bridge.relay()

    billing = {attrs["errorCode"] for _, attrs in messages(bridge, "BillingProblemsQueue")}
    failed = [attrs["errorCode"] for _, attrs in messages(bridge, "FailedStartsQueue")]
    assert billing == {c.value for c in BILLING_CODES}
    assert len(BILLING_CODES) == 10
    assert sorted(failed) == sorted([c.value for c in ErrorCode] + ["SOME_FUTURE_CODE"])


def test_an_unknown_future_code_is_kept_verbatim(bridge: Bridge) -> None:
    answer = start(bridge, {"idTag": "SIM:BRAND_NEW_CODE"})
    assert answer.json["errorCode"] == "BRAND_NEW_CODE"
    assert attempts(bridge)[0]["errorCode"] == "BRAND_NEW_CODE"


def test_a_rejection_without_a_code_is_unspecified(bridge: Bridge) -> None:
    answer = start(bridge, {"idTag": "SIM:REJECT"})
    assert answer.status == 202
    assert "errorCode" not in answer.json
    bridge.relay()
    [(_, attributes)] = messages(bridge, "FailedStartsQueue")
    assert attributes["errorCode"] == "UNSPECIFIED_REJECTION"


def test_the_evse_path_is_forwarded_and_relayed_with_evse_id(bridge: Bridge, tenant: TenantSimulator) -> None:
    answer = bridge.request("POST", EVSE_PATH.format(evse=77), body=None)
    assert answer.status == 202
    assert tenant.calls[-1].path == "/public-api/actions/evse/v1.0/77/start"
    bridge.relay()
    answer = bridge.request("POST", EVSE_PATH.format(evse=78), body={"idTag": "SIM:PAYMENT_NO_FUNDS"})
    bridge.relay()
    [(_, attributes)] = messages(bridge, "FailedStartsQueue")
    assert attributes["evseId"] == "78"
    assert "chargePoint" not in attributes


@pytest.mark.parametrize("body", [None, {}, b""])
def test_no_body_and_empty_object_are_valid_starts(bridge: Bridge, body: Any) -> None:
    assert start(bridge, body).status == 202


# ---------------------------------------------------------------------- tenant failures
@pytest.mark.parametrize(
    ("status", "expected"),
    [(400, 400), (404, 404), (409, 409), (422, 422), (429, 429), (418, 418)],
)
def test_tenant_4xx_pass_through_with_body_and_retry_after(bridge: Bridge, status: int, expected: int) -> None:
    answer = start(bridge, {"idTag": f"SIM:HTTP_{status}"})
    assert answer.status == expected
    assert "message" in answer.json
    if status == 429:
        assert answer.headers["retry-after"] == "30"
    assert answer.headers["x-bridge-attempt-id"]
    [attempt] = attempts(bridge)
    assert (attempt["outcome"], attempt["errorCode"]) == ("failed", f"UPSTREAM_HTTP_{status}")


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "UPSTREAM_HTTP_401"), (403, "UPSTREAM_HTTP_403"), (500, "UPSTREAM_HTTP_500"), (503, "UPSTREAM_HTTP_503")],
)
def test_tenant_auth_failures_and_5xx_are_502_with_an_upstream_code(bridge: Bridge, status: int, code: str) -> None:
    answer = start(bridge, {"idTag": f"SIM:HTTP_{status}"})
    assert answer.status == 502
    assert_valid("upstream_error", answer.json)
    assert answer.json["errorCode"] == code
    bridge.relay()
    [(_, attributes)] = messages(bridge, "FailedStartsQueue")
    assert (attributes["outcome"], attributes["errorCode"]) == ("failed", code)


def test_an_answer_that_is_not_ampecos_is_502_invalid_response(bridge: Bridge) -> None:
    answer = start(bridge, {"idTag": "SIM:GARBAGE"})
    assert answer.status == 502
    assert answer.json["errorCode"] == "UPSTREAM_INVALID_RESPONSE"


def test_an_oversized_answer_is_502_invalid_response(bridge: Bridge) -> None:
    answer = start(bridge, {"idTag": "SIM:HUGE"})
    assert answer.status == 502
    assert answer.json["errorCode"] == "UPSTREAM_INVALID_RESPONSE"


@pytest.mark.parametrize("mode", ["SIM:TIMEOUT", "SIM:DRIP"])
def test_a_slow_tenant_is_504_within_the_deadline_plus_two_seconds(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(starts_module(bridge).service, "deps", with_tenant(bridge, timeout_seconds=0.5))

    began = time.monotonic()
    answer = start(bridge, {"idTag": mode})
    elapsed = time.monotonic() - began

    assert answer.status == 504
    assert answer.json["errorCode"] == "UPSTREAM_TIMEOUT"
    assert elapsed < 2.5
    bridge.relay()
    [(_, attributes)] = messages(bridge, "FailedStartsQueue")
    assert attributes["errorCode"] == "UPSTREAM_TIMEOUT"


def test_an_unreachable_tenant_is_502_unavailable(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    refused = with_tenant(bridge, base_url=f"http://127.0.0.1:{closed_port}")
    monkeypatch.setattr(starts_module(bridge).service, "deps", refused)

    answer = start(bridge, {"idTag": "FLEET"})
    assert answer.status == 502
    assert answer.json["errorCode"] == "UPSTREAM_UNAVAILABLE"
    assert attempts(bridge)[0]["errorCode"] == "UPSTREAM_UNAVAILABLE"


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"userId": "10"}, "userId"),
        ({"paymentMethodId": "pm_1"}, "body"),
        ({"idTag": 5}, "idTag"),
        ({"connectorId": 1.5}, "connectorId"),
        ({"chargingProfile": {"stackLevel": 1}}, "chargingProfile.chargingProfilePurpose"),
        (
            {
                "chargingProfile": {
                    "stackLevel": 1,
                    "chargingProfilePurpose": "TxProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": {"chargingRateUnit": "X", "chargingSchedulePeriod": []},
                }
            },
            "chargingProfile.chargingSchedule.chargingRateUnit",
        ),
        ([1, 2], "body"),
    ],
)
def test_an_invalid_start_is_422_records_nothing_and_calls_nothing(
    bridge: Bridge, tenant: TenantSimulator, body: Any, field: str
) -> None:
    calls = len(tenant.calls)
    answer = start(bridge, body)
    assert answer.status == 422
    assert_valid("error", answer.json)
    assert any(key.startswith(field) for key in answer.json["errors"]), answer.json
    assert "x-bridge-attempt-id" not in answer.headers
    assert attempts(bridge) == []
    assert len(tenant.calls) == calls


def test_a_valid_charging_profile_and_payment_method_pass(bridge: Bridge) -> None:
    body = {
        "userId": 1,
        "paymentMethodId": "pm_1",
        "chargingProfile": {
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.1}],
            },
        },
    }
    assert start(bridge, body).status == 202


def test_malformed_json_is_400(bridge: Bridge) -> None:
    assert start(bridge, b"{nope").status == 400


@pytest.mark.parametrize(("cp", "evse"), [("abc", "1"), ("1", "x"), ("0", "1")])
def test_invalid_path_ids_are_422(bridge: Bridge, cp: str, evse: str) -> None:
    answer = bridge.request("POST", f"/public-api/actions/charge-point/v1.0/{cp}/start/{evse}", body={})
    assert answer.status == 422


# ---------------------------------------------------------------------- idempotency
def test_a_repeat_with_the_same_key_replays_the_first_answer_without_calling_the_tenant(
    bridge: Bridge, tenant: TenantSimulator
) -> None:
    calls = len(tenant.calls)
    first = start(bridge, {"idTag": "A", "userId": 1}, headers={"Idempotency-Key": "k-1"})
    again = start(bridge, {"userId": 1, "idTag": "A"}, headers={"idempotency-key": "k-1"})

    assert (first.status, again.status) == (202, 202)
    assert again.text == first.text
    assert again.headers["x-bridge-attempt-id"] == first.headers["x-bridge-attempt-id"]
    assert len(tenant.calls) == calls + 1
    assert len(attempts(bridge)) == 1


def test_the_same_key_with_another_body_is_422_once_final(bridge: Bridge) -> None:
    start(bridge, {"idTag": "A"}, headers={"Idempotency-Key": "k-2"})
    answer = start(bridge, {"idTag": "B"}, headers={"Idempotency-Key": "k-2"})
    assert answer.status == 422
    assert "Idempotency-Key" in answer.json["errors"]


def test_the_same_key_on_another_path_is_another_request(bridge: Bridge) -> None:
    start(bridge, {"idTag": "A"}, headers={"Idempotency-Key": "k-3"})
    assert start(bridge, {"idTag": "A"}, cp=13, headers={"Idempotency-Key": "k-3"}).status == 202
    assert len(attempts(bridge)) == 2


def test_without_a_key_every_request_is_a_new_start(bridge: Bridge) -> None:
    start(bridge, {"idTag": "A"})
    start(bridge, {"idTag": "A"})
    assert len(attempts(bridge)) == 2


def test_a_passed_through_4xx_is_final_but_429_and_5xx_release_the_key(bridge: Bridge, tenant: TenantSimulator) -> None:
    calls = len(tenant.calls)
    assert start(bridge, {"idTag": "SIM:HTTP_422"}, headers={"Idempotency-Key": "k-4"}).status == 422
    assert start(bridge, {"idTag": "SIM:HTTP_422"}, headers={"Idempotency-Key": "k-4"}).status == 422
    assert len(tenant.calls) == calls + 1
    for mode in ("SIM:HTTP_429", "SIM:HTTP_503"):
        key = {"Idempotency-Key": f"k-{mode}"}
        start(bridge, {"idTag": mode}, headers=key)
        start(bridge, {"idTag": mode}, headers=key)
    assert len(tenant.calls) == calls + 5


def test_concurrent_repeats_with_one_key_reach_the_tenant_once(bridge: Bridge, tenant: TenantSimulator) -> None:
    calls = len(tenant.calls)
    barrier = threading.Barrier(6)
    statuses: list[int] = []
    ids: set[str] = set()

    def send() -> None:
        barrier.wait()
        answer = start(bridge, {"idTag": "RACE"}, headers={"Idempotency-Key": "k-race"})
        statuses.append(answer.status)
        if answer.status == 202:
            ids.add(answer.headers["x-bridge-attempt-id"])

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(tenant.calls) == calls + 1
    assert set(statuses) <= {202, 409}
    assert len(ids) == 1
    assert len(attempts(bridge)) == 1
