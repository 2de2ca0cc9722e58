"""The subscriber contract: every message the relay really publishes conforms to docs/schemas/*.json.

Each flow below runs through the real handlers and the relay into the template's topics; the bodies the
subscriber queues receive are validated against the committed schemas, so a change to a message that the
schemas do not describe fails here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from local.lambda_runtime import load_function
from local.tenant_sim import TenantSimulator, session_update_notification
from tests.conftest import AMPECO_TOKEN
from tests.contract.schemas import _format_checker
from tests.contract.schemas import example as contract_example
from tests.harness import Bridge, security_event

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
CP_START = "/public-api/actions/charge-point/v1.0/{cp}/start/{evse}"
EVSE_START = "/public-api/actions/evse/v1.0/{evse}/start"


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_format_checker())


def problems(name: str, body: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(body)]


@pytest.fixture
def sim(bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> Iterator[TenantSimulator]:
    """This test's own tenant, for the starts and the reconciler (a short deadline for SIM:LATE_START)."""
    from bridge.tenant_client import TenantClient
    from bridge.tenant_listings import TenantListings

    with TenantSimulator(token=AMPECO_TOKEN, webhook_url=None, timeout_hint_seconds=3) as simulator:
        starts = load_function(bridge.stack.template, "StartsFunction").service
        short = TenantClient(simulator.url, lambda: AMPECO_TOKEN, 0.5)
        monkeypatch.setattr(starts, "deps", dataclasses.replace(starts.deps, tenant=short))
        reconciler = load_function(bridge.stack.template, "ReconcilerFunction")
        listings = TenantListings(TenantClient(simulator.url, lambda: AMPECO_TOKEN, 5))
        monkeypatch.setattr(reconciler, "deps", dataclasses.replace(reconciler.deps, listings=listings))
        yield simulator


def test_every_security_event_message_conforms(bridge: Bridge, sim: TenantSimulator) -> None:
    assert bridge.push(11, security_event("TamperDetectionActivated", tech_info="lid")).status == 202
    assert (
        bridge.push(12, {"events": [security_event("ResetOrReboot"), security_event("FirmwareUpdated")]}).status == 202
    )
    notified = contract_example("notification_security_event")
    notified.update(type="TamperDetectionActivated", chargePointId=13, critical=True)
    assert bridge.notify(notified).status == 202
    unlisted = contract_example("notification_security_event", "non_critical")
    assert bridge.notify(unlisted).status == 202
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    sim.record_security_event(14, "MemoryExhaustion", now, "lost", notify=False)
    bridge.reconcile()

    bridge.relay()
    bodies = [d["body"] for d in bridge.deliveries.all() if d["topic"] == "security-events"]

    assert sorted(b["data"]["source"] for b in bodies) == ["push", "push", "push", "reconciled", "webhook", "webhook"]
    assert any(b["data"]["id"] is None for b in bodies)  # the non-critical type is not listed
    for body in bodies:
        assert problems("security-event-message", body) == [], body


def test_every_start_result_message_conforms(bridge: Bridge, sim: TenantSimulator) -> None:
    requests = [
        (CP_START.format(cp=21, evse=1), {"idTag": "FLEET-1", "userId": 10458, "externalSessionId": "ext-1"}),
        (EVSE_START.format(evse=2201), {"idTag": "SIM:PAYMENT_NO_FUNDS"}),
        (EVSE_START.format(evse=2202), {"idTag": "SIM:REJECT"}),
        (EVSE_START.format(evse=2203), {"idTag": "SIM:HTTP_503"}),
        (EVSE_START.format(evse=2204), {"idTag": "SIM:GARBAGE"}),
        (EVSE_START.format(evse=2205), {"idTag": "SIM:HUGE"}),
        (EVSE_START.format(evse=2206), {"idTag": "SIM:LATE_START"}),
        (EVSE_START.format(evse=2207), None),
    ]
    for path, body in requests:
        assert bridge.request("POST", path, body=body).status in (202, 502, 503, 504)
    [late] = [s for s in sim.records.sessions() if s.evse_id == 2206]
    assert bridge.notify(session_update_notification(late)).status == 202  # resolves the 504: a correction

    bridge.relay()
    bodies = [d["body"] for d in bridge.deliveries.all() if d["topic"] == "start-results"]

    by_evse = {(b["data"]["evseId"] or b["data"]["chargePoint"], b["data"]["corrects"] is not None): b for b in bodies}
    first = by_evse[(21, False)]["data"]
    assert (first["idTag"], first["userId"], first["externalSessionId"]) == ("FLEET-1", 10458, "ext-1")
    assert isinstance(first["tenantBody"], dict)  # JSON, not a string inside JSON
    assert first["tenantBody"]["success"] is True
    assert by_evse[(2204, False)]["data"]["tenantBody"] == {"unexpected": True}  # not AMPECO's, still JSON
    assert by_evse[(2206, True)]["data"]["outcome"] == "started"
    assert len(bodies) == len(requests) + 1
    for body in bodies:
        assert problems("start-result-message", body) == [], body
