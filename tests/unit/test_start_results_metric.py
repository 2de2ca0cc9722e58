"""The StartResults metric: one datapoint per tenant answer, by outcome and a bounded errorCode."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.error_codes import ErrorCode
from bridge.errors import UpstreamError
from bridge.models.starts import StartPath, StartTarget
from bridge.start_flow import start_once
from tests.unit.fakes import ManualClock, MemoryAttempts, MemoryDeferrals, ScriptedTenant, TenantReply

TARGET = StartTarget(StartPath.CHARGE_POINT, charge_point=12, evse_network_id=3)


def rejected(code: str | None = None) -> TenantReply:
    body: dict[str, Any] = {"success": False, "sessionId": None, "authorizationId": None}
    if code is not None:
        body["errorCode"] = code
    return TenantReply(202, json.dumps(body).encode())


def start_results(printed: str) -> list[dict[str, Any]]:
    """The StartResults datapoints among the EMF lines printed."""
    lines = [json.loads(line) for line in printed.splitlines() if line.startswith("{")]
    return [line for line in lines if "StartResults" in line]


def start(reply: TenantReply | Exception) -> None:
    start_once(MemoryAttempts(), ScriptedTenant([reply]), MemoryDeferrals(), TARGET, b"{}", None, ManualClock())


@pytest.mark.parametrize(
    ("reply", "outcome", "code"),
    [
        (TenantReply(202, b'{"success":true,"sessionId":7,"authorizationId":8}'), "started", "none"),
        (rejected("PAYMENT_NO_FUNDS"), "rejected", "PAYMENT_NO_FUNDS"),
        (rejected(), "rejected", "UNSPECIFIED_REJECTION"),
        # A code AMPECO adds later is kept in the attempt and the message, but counted as OTHER: bounded.
        (rejected("BRAND_NEW_CODE"), "rejected", "OTHER"),
        (TenantReply(503, b'{"message":"down"}'), "failed", "UPSTREAM_HTTP_503"),
        (TenantReply(422, b'{"message":"bad"}'), "failed", "UPSTREAM_HTTP_422"),
        (TenantReply(202, b"not json"), "failed", "UPSTREAM_INVALID_RESPONSE"),
        (UpstreamError("slow", error_code="UPSTREAM_TIMEOUT", status=504), "failed", "UPSTREAM_TIMEOUT"),
    ],
)
def test_each_tenant_answer_is_counted_once_by_outcome_and_error_code(
    capsys: pytest.CaptureFixture[str], reply: TenantReply | Exception, outcome: str, code: str
) -> None:
    capsys.readouterr()
    start(reply)
    [point] = start_results(capsys.readouterr().out)
    assert point["StartResults"] == [1.0] or point["StartResults"] == 1.0
    assert (point["outcome"], point["errorCode"], point["service"]) == (outcome, code, "ampeco-bridge")
    [directive] = point["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "AmpecoBridge"
    assert sorted(directive["Dimensions"][0]) == ["errorCode", "outcome", "service"]


def test_every_known_rejection_code_is_its_own_series(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    for code in ErrorCode:
        start(rejected(code.value))
    points = start_results(capsys.readouterr().out)
    assert [p["errorCode"] for p in points] == [code.value for code in ErrorCode]
