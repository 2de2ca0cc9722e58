"""The local run's controls of its tenant simulator, open without a key like every `/_local` helper.

`POST /_local/tenant/security-events` with `{chargePoint, type, timestamp, techInfo?, critical?, notify?}`
makes the simulated tenant record a security event, as a charge point's would be, and notify the bridge
(`"notify": false` records it and loses the webhook). 201 with the stored item; 400 for malformed JSON; 422
`{message, errors}` for a bad body; 503 when the run talks to a real tenant (AMPECO_BASE_URL) instead.
`GET /_local/tenant` counts what the simulated tenant holds and which of its notifications it dropped.
"""

from __future__ import annotations

import json

from local.server import BridgeServer, LocalResponse
from local.tenant_records import security_event_problems, validation_error
from local.tenant_sim import TenantSimulator

TENANT_ROUTE = "/_local/tenant"
SECURITY_EVENTS_ROUTE = "/_local/tenant/security-events"
_FIELDS = ("chargePoint", "type", "timestamp", "techInfo", "critical", "notify")


def serve_tenant_controls(bridge: BridgeServer, simulator: TenantSimulator | None) -> None:
    """Add the tenant controls to the bridge's local routes (answering 503 when there is no simulator)."""
    bridge.add_local_route("POST", SECURITY_EVENTS_ROUTE, lambda raw: record_security_event(simulator, raw))
    bridge.add_local_route("GET", TENANT_ROUTE, lambda _raw: tenant_counts(simulator))


def tenant_counts(simulator: TenantSimulator | None) -> LocalResponse:
    """What the simulated tenant holds, and its dropped notifications by kind with the ids they were about."""
    if simulator is None:
        return 503, {"message": "There is no tenant simulator in this run: AMPECO_BASE_URL names the tenant."}
    dropped: dict[str, list[dict[str, int]]] = {}
    for notification in simulator.dropped_notifications:
        dropped.setdefault(notification.notification, []).append(notification.ids)
    events = simulator.records.security_events()
    return 200, {
        "securityEvents": len(events),
        "listedSecurityEvents": sum(1 for e in events if e.listed),
        "sessions": len(simulator.records.sessions()),
        "dropShare": simulator.drop_share,
        "dropped": dropped,
    }


def record_security_event(simulator: TenantSimulator | None, raw: bytes) -> LocalResponse:
    """The answer to one `POST /_local/tenant/security-events`."""
    if simulator is None:
        return 503, {"message": "There is no tenant simulator in this run: AMPECO_BASE_URL names the tenant."}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return 400, {"message": "The request body must be valid JSON."}
    if not isinstance(body, dict):
        return 422, validation_error({"body": ["The request body must be a JSON object."]})
    problems = security_event_problems(
        body.get("chargePoint"), body.get("type"), body.get("timestamp"), body.get("techInfo"), body.get("critical")
    )
    notify = body.get("notify", True)
    if not isinstance(notify, bool):
        problems["notify"] = ["The notify field must be true or false."]
    for name in body:
        if name not in _FIELDS:  # a misspelt field would otherwise be ignored without a word
            problems[name] = [f"The {name} field is not one of {', '.join(_FIELDS)}."]
    if problems:
        return 422, validation_error(problems)
    item = simulator.record_security_event(
        body["chargePoint"], body["type"], body["timestamp"], body.get("techInfo"), body.get("critical"), notify
    )
    return 201, item
