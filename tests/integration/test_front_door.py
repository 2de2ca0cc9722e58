"""The front door (issue 8): per-charge-point secrets, fail closed on placeholders, every refusal visible.

Each attack is tried as a sender would try it, through the real handlers, and nothing may be stored or relayed.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.aws import REGION
from local.tenant_sim import TenantSimulator
from tests.contract.schemas import example
from tests.harness import (
    AMPECO_TOKEN,
    OLD_WEBHOOK_SECRET,
    WEBHOOK_SECRET,
    Bridge,
    push_secret,
    security_event,
    sign_ampeco,
    sign_push,
)

PUSH = "/webhooks/charge-points/{}/security-events"
START = "/public-api/actions/charge-point/v1.0/12/start/3"


def stored_events(bridge: Bridge) -> list[dict[str, Any]]:
    return [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "securityEvent"]


def nothing_stored_or_relayed(bridge: Bridge) -> bool:
    bridge.relay()
    return stored_events(bridge) == [] and bridge.deliveries.all() == []


def set_secret(bridge: Bridge, logical_id: str, value: str) -> None:
    from bridge import secrets

    boto3.client("secretsmanager", region_name=REGION).put_secret_value(
        SecretId=bridge.stack.refs[logical_id], SecretString=value
    )
    secrets.clear_cache()


# ---------------------------------------------------------------------- per-charge-point secrets
def test_a_push_captured_from_one_charge_point_is_refused_for_every_other(bridge: Bridge) -> None:
    body = json.dumps(security_event("TamperDetectionActivated")).encode()
    captured = sign_push(body, "msg_captured", push_secret(1))
    assert bridge.request("POST", PUSH.format(1), body=body, headers=captured).status == 202
    replays = [bridge.request("POST", PUSH.format(cp), body=body, headers=captured) for cp in (2, 3)]
    assert [r.status for r in replays] == [401, 401]
    assert len(stored_events(bridge)) == 1
    assert bridge.relay() == 1


@pytest.mark.parametrize("master", [WEBHOOK_SECRET, OLD_WEBHOOK_SECRET])
def test_a_push_signed_with_a_master_is_refused(bridge: Bridge, master: str) -> None:
    answer = bridge.push(7, security_event(), secret=master)
    assert answer.status == 401
    assert nothing_stored_or_relayed(bridge)


def test_a_push_signed_with_another_charge_points_secret_is_refused(bridge: Bridge) -> None:
    answer = bridge.push(7, security_event(), secret=push_secret(8))
    assert answer.status == 401
    assert nothing_stored_or_relayed(bridge)


@pytest.mark.parametrize("master", [WEBHOOK_SECRET, OLD_WEBHOOK_SECRET])
def test_each_active_master_derives_a_secret_the_charge_point_can_sign_with(bridge: Bridge, master: str) -> None:
    assert bridge.push(7, security_event(), master=master).status == 202


def test_the_derivation_is_the_contracts_and_a_standard_webhooks_secret() -> None:
    from standardwebhooks.webhooks import Webhook

    from bridge import push_secrets

    [key, _] = push_secrets.master_keys(f"{WEBHOOK_SECRET} {OLD_WEBHOOK_SECRET}")
    assert push_secrets.derive(key, 1187) == push_secret(1187)  # the test's own reading of section 3
    Webhook(push_secret(1187))  # an ordinary whsec_ secret: the library takes it


# ---------------------------------------------------------------------- fail closed
@pytest.mark.parametrize("placeholder", ["replace-me", "REPLACE_ME", "unset", "changeme"])
def test_a_placeholder_token_verifies_no_notification(bridge: Bridge, placeholder: str) -> None:
    set_secret(bridge, "AmpecoApiToken", placeholder)
    answer = bridge.notify(example("notification_security_event"), token=placeholder)  # signed as an attacker could
    assert answer.status == 503
    assert "AmpecoApiToken" in answer.json["message"]
    assert bridge.table_items("SecurityEventsTable") == []


@pytest.mark.parametrize("placeholder", ["replace-me", "unset"])
def test_a_placeholder_token_never_reaches_the_tenant(
    bridge: Bridge, tenant: TenantSimulator, placeholder: str
) -> None:
    set_secret(bridge, "AmpecoApiToken", placeholder)
    calls = len(tenant.calls)
    answer = bridge.request("POST", START, body={"idTag": "FLEET"})
    assert (answer.status, answer.headers["retry-after"]) == (503, "60")
    assert answer.json["message"] == (
        "The bridge is not configured: set the AmpecoApiToken secret (the AMPECO tenant's API token)."
    )
    assert len(tenant.calls) == calls
    assert bridge.table_items("AttemptsTable") == []


@pytest.mark.parametrize(
    "configured",
    ["replace-me", "Xk29fJq0aZr8VtL5mNc3Ow7YhG1uE4iP6sD2bQ9xK0l", "whsec_replace-me", "whsec_c2hvcnQ="],
)
def test_a_webhook_secret_without_a_real_master_verifies_no_push(bridge: Bridge, configured: str) -> None:
    set_secret(bridge, "WebhookSecret", configured)
    answer = bridge.push(7, security_event(), master=WEBHOOK_SECRET)
    assert answer.status == 503
    assert "WebhookSecret" in answer.json["message"]
    assert nothing_stored_or_relayed(bridge)


# ---------------------------------------------------------------------- every refusal visible, nothing secret in logs
MARKER = f"BODY-MARKER-{uuid.uuid4().hex}"


class Refusals:
    """The refusal paths tried (name, expected reason), checked against what the logs and metrics say.

    Log lines are read through a handler with the bridge logger's own JSON formatter (its stream handler
    keeps the stdout of the first test that imported it); metric lines from the captured stdout.
    """

    def __init__(self, capfd: pytest.CaptureFixture[str]) -> None:
        from bridge.observability import logger

        self.capture = capfd
        self.tried: list[tuple[str, str]] = []
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(logger.registered_formatter)
        self.logger = logger
        logger.addHandler(self.handler)
        capfd.readouterr()  # what set-up printed

    def append(self, path: tuple[str, str]) -> None:
        self.tried.append(path)

    def close(self) -> None:
        self.logger.removeHandler(self.handler)

    def check(self) -> None:
        printed = self.capture.readouterr()
        logged = self.stream.getvalue()
        lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
        refused = [line for line in lines if line.get("message") == "request refused"]
        assert [r["reason"] for r in refused] == [reason for _, reason in self.tried]
        metrics = [json.loads(line) for line in printed.out.splitlines() if line.startswith("{")]
        counted = [line["reason"] for line in metrics if "RequestsRefused" in line]
        assert counted == [reason for _, reason in self.tried]
        everything = logged + printed.out + printed.err
        for secret in _secrets_and_signatures():
            assert secret not in everything, "a secret or signature is in the logs"
        assert MARKER not in everything, "a body is in the logs"


@pytest.fixture
def refusals(bridge: Bridge, capfd: pytest.CaptureFixture[str]) -> Iterator[Refusals]:
    recorder = Refusals(capfd)
    yield recorder
    recorder.close()


_SIGNATURES: list[str] = []


def _secrets_and_signatures() -> list[str]:
    derived = [push_secret(cp, m) for cp in (1, 2, 7, 8) for m in (WEBHOOK_SECRET, OLD_WEBHOOK_SECRET)]
    return [WEBHOOK_SECRET, OLD_WEBHOOK_SECRET, AMPECO_TOKEN, "test-api-key", *derived, *_SIGNATURES]


def _signed(body: bytes, secret: str, webhook_id: str = "msg_refused", timestamp: int | None = None) -> dict[str, str]:
    headers = sign_push(body, webhook_id, secret, timestamp)
    _SIGNATURES.append(headers["webhook-signature"].split(",", 1)[1])
    return headers


def test_every_refusal_is_logged_once_with_its_reason_and_never_a_secret_signature_or_body(
    bridge: Bridge, refusals: Refusals
) -> None:
    import time

    event = security_event("TamperDetectionActivated", tech_info=MARKER)
    body = json.dumps(event).encode()
    now = int(time.time())

    def push(name: str, reason: str, status: int, headers: dict[str, str], cp: str = "7", raw: bytes = body) -> None:
        refusals.append((name, reason))
        answer = bridge.request("POST", PUSH.format(cp), body=raw, headers=headers)
        assert answer.status == status, (name, answer.status, answer.text)

    push("push without signature headers", "missing_signature", 401, {})
    push(
        "push with a malformed timestamp",
        "bad_timestamp",
        401,
        {**_signed(body, push_secret(7)), "webhook-timestamp": "12x"},
    )
    push("push signed too long ago", "stale_timestamp", 401, _signed(body, push_secret(7), timestamp=now - 3600))
    push("push signed in the future", "future_timestamp", 401, _signed(body, push_secret(7), timestamp=now + 3600))
    push("push with a wrong signature", "bad_signature", 401, _signed(body, push_secret(8)))
    push("push signed with a master", "master_signature", 401, _signed(body, WEBHOOK_SECRET))
    push("push for a charge point that is no id", "invalid_charge_point", 422, _signed(body, push_secret(7)), cp="x7")
    push("push over 256 KiB", "oversize", 413, _signed(body, push_secret(7)), raw=b"{" + MARKER.encode() * 9000)
    bad = json.dumps({"type": "NotAType", "timestamp": "2026-01-01T00:00:00Z", "techInfo": MARKER}).encode()
    push("push with an invalid event", "invalid_body", 422, _signed(bad, push_secret(7)), raw=bad)
    broken = b'{"type": "' + MARKER.encode()
    push("push that is not JSON", "malformed_json", 400, _signed(broken, push_secret(7)), raw=broken)

    notification = json.dumps({**example("notification_security_event"), "techInfo": MARKER}).encode()

    def notify(name: str, reason: str, status: int, headers: dict[str, str]) -> None:
        refusals.append((name, reason))
        answer = bridge.request("POST", "/webhooks/ampeco", body=notification, headers=headers)
        assert answer.status == status, (name, answer.status, answer.text)

    signature = sign_ampeco(notification, AMPECO_TOKEN)
    _SIGNATURES.append(signature)
    notify("notification without X-Signature", "missing_signature", 401, {})
    forged = sign_ampeco(notification, "guessed-token")
    _SIGNATURES.append(forged)
    notify("notification with a forged signature", "bad_signature", 401, {"X-Signature": forged})
    pinned = load_pinned_tenant(bridge, "tenant-a")
    try:
        notify("notification from another tenant", "wrong_tenant", 401, {"X-Signature": signature, "X-Tenant": "b"})
    finally:
        pinned()

    refusals.append(("start with an invalid body", "invalid_body"))
    assert bridge.request("POST", START, body={"idTag": 5, "note": MARKER}).status == 422
    refusals.append(("start that is not JSON", "malformed_json"))
    assert bridge.request("POST", START, body=b'{"idTag": "' + MARKER.encode()).status == 400
    refusals.append(("listing with an unknown filter", "invalid_body"))
    assert bridge.request("GET", f"/public-api/resources/security-events/v2.0?filter[{MARKER}]=1").status == 422

    set_secret(bridge, "AmpecoApiToken", "replace-me")
    notify("notification while the token is a placeholder", "not_configured", 503, {"X-Signature": signature})
    refusals.append(("start while the token is a placeholder", "not_configured"))
    assert bridge.request("POST", START, body={"idTag": MARKER}).status == 503
    set_secret(bridge, "WebhookSecret", "replace-me")
    push("push while the webhook secret is a placeholder", "not_configured", 503, _signed(body, push_secret(7)))

    refusals.check()


def load_pinned_tenant(bridge: Bridge, tenant: str) -> Any:
    """Pin AMPECO_TENANT in the webhooks function's settings; returns the undo."""
    import dataclasses

    from local.lambda_runtime import load_function

    module = load_function(bridge.stack.template, "WebhooksFunction")
    deps = module.deps
    module.deps = dataclasses.replace(deps, settings=deps.settings.model_copy(update={"ampeco_tenant": tenant}))

    def undo() -> None:
        module.deps = deps

    return undo
