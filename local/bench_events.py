"""The events the bench sends, as senders make them, and the handlers run in this process like Lambda runs them.

Pushes are signed with Standard Webhooks by the charge point's own secret (derived from the master as the contract
writes it, independently of the bridge's code); AMPECO notifications carry the HMAC of the body keyed with the API
token; listing, read and start requests carry an API key, as API Gateway passes them on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local.aws import ACCOUNT_ID, REGION
from local.lambda_runtime import FakeLambdaContext, Invoke, api_gateway_event, handler_invoker, make_context
from local.stack import Stack

MASTER_SECRET = "whsec_" + base64.b64encode(b"ampeco-bridge-bench-webhook-master").decode()
AMPECO_TOKEN = "bench-ampeco-token"
SECRETS = {"WebhookSecret": MASTER_SECRET, "AmpecoApiToken": AMPECO_TOKEN, "CursorSecret": "bench-cursor-secret"}
API_KEY_ID = "bench-api-key-id"
PUSH_PATH = "/webhooks/charge-points/{}/security-events"
NOTIFICATION_PATH = "/webhooks/ampeco"
SECURITY_EVENTS_PATH = "/public-api/resources/security-events/v2.0"
SESSIONS_PATH = "/public-api/resources/sessions/v1.0"
START_PATH = "/public-api/actions/charge-point/v1.0/{}/start/{}"
TYPES = (
    "FirmwareUpdated",
    "SettingSystemTime",
    "StartupOfTheDevice",
    "ResetOrReboot",
    "SecurityLogWasCleared",
    "MemoryExhaustion",
    "TamperDetectionActivated",
)


def charge_point_key(charge_point: int, master: str = MASTER_SECRET) -> bytes:
    """The HMAC key of a charge point's own push secret."""
    key = base64.b64decode(master.removeprefix("whsec_"))
    return hmac.new(key, f"charge-point:{charge_point}".encode(), hashlib.sha256).digest()


def sign_push(body: bytes, webhook_id: str, key: bytes, sent: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers for a body."""
    at = str(int(time.time()) if sent is None else sent)
    digest = hmac.new(key, f"{webhook_id}.{at}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": at,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def sign_ampeco(body: bytes, token: str = AMPECO_TOKEN) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Request:
    """One event for a function, and what a baseline needs to do the same unavoidable work."""

    function: str
    event: dict[str, Any]
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Events:
    """Builds each kind of event the bench sends; every one is new (ids, times, bodies)."""

    stack: Stack
    base: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def api(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Request:
        """An API Gateway event for the template's route of `path`."""
        for route in self.stack.template.routes():
            params = route.match(path)
            if params is None or route.method != method:
                continue
            all_headers = {"Content-Type": "application/json", "User-Agent": "bench", **(headers or {})}
            if route.api_key_required:
                all_headers["x-api-key"] = "bench-api-key"
            key_id = API_KEY_ID if route.api_key_required else None
            event = api_gateway_event(method, path, route.path, params, query, all_headers, body, api_key_id=key_id)
            return Request(route.function, event, body or b"", {k.lower(): v for k, v in all_headers.items()})
        raise LookupError(f"no route for {method} {path} in template.yaml")

    def _moment(self) -> datetime:
        return self.base + timedelta(seconds=next(self.counter), microseconds=next(self.counter) % 1_000_000)

    def push(self, charge_point: int = 17) -> Request:
        n = next(self.counter)
        body = json.dumps(
            {"type": TYPES[n % 7], "timestamp": self._moment().isoformat(), "techInfo": f"bench push {n}"}
        ).encode()
        headers = sign_push(body, f"msg_{uuid.uuid4().hex}", charge_point_key(charge_point))
        return self.api("POST", PUSH_PATH.format(charge_point), body=body, headers=headers)

    def notification(self, charge_point: int = 18) -> Request:
        """An AMPECO SecurityEventNotification (a critical event: stored and relayed)."""
        n = next(self.counter)
        document = {
            "notification": "SecurityEventNotification",
            "chargePointId": charge_point,
            "type": TYPES[n % 7],
            "timestamp": self._moment().isoformat().replace("+00:00", "Z"),
            "critical": True,
            "techInfo": f"bench notification {n}",
        }
        return self._ampeco(document)

    def session_notification(self, session_id: int, status: str = "active", minutes: int = 0) -> Request:
        """AMPECO's SessionUpdateNotification for a session (`minutes` on: a later update of the same one)."""
        started = self.base + timedelta(seconds=session_id)
        session = {
            "id": session_id,
            "chargePointId": 40 + session_id % 7,
            "evseId": 400 + session_id % 7,
            "connectorId": 1,
            "status": status,
            "startedAt": started.isoformat().replace("+00:00", "Z"),
            "idTag": f"BENCH-{session_id % 11}",
            "energy": 1200 * (minutes + 1),
            "lastUpdatedAt": (started + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        }
        return self._ampeco({"notification": "SessionUpdateNotification", "session": session})

    def _ampeco(self, document: dict[str, Any]) -> Request:
        body = json.dumps(document).encode()
        headers = {"X-Signature": sign_ampeco(body), "X-Timestamp": datetime.now(UTC).isoformat(), "X-Tenant": "bench"}
        return self.api("POST", NOTIFICATION_PATH, body=body, headers=headers)

    def listing(
        self, query: Sequence[tuple[str, str]] = (("filter[chargePoint]", "17"), ("per_page", "25"))
    ) -> Request:
        return self.api("GET", SECURITY_EVENTS_PATH, query)

    def read(self, event_id: int) -> Request:
        return self.api("GET", f"{SECURITY_EVENTS_PATH}/{event_id}")

    def start(self, charge_point: int = 12, evse: int = 3) -> Request:
        body = json.dumps({"idTag": f"BENCH-{next(self.counter)}"}).encode()
        return self.api("POST", START_PATH.format(charge_point, evse), body=body)

    def scheduled(self, function: str) -> Request:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/bench-{function}"],
            "detail": {},
        }
        return Request(function, event)


@dataclass
class Handlers:
    """The real handlers in this process (loaded on first use, as a container's first event loads them)."""

    stack: Stack
    invoke: Invoke = field(init=False)

    def __post_init__(self) -> None:
        self.invoke = handler_invoker(self.stack.template)

    def context(self, function: str) -> FakeLambdaContext:
        return make_context(self.stack.template, function)

    def __call__(self, request: Request) -> Any:
        return self.invoke(request.function, request.event, self.context(request.function))


def answer_status(result: Any) -> int:
    """An API answer's status (200 for a function that is not behind the API and did not fail)."""
    if isinstance(result, dict) and "statusCode" in result:
        return int(result["statusCode"])
    if isinstance(result, dict) and result.get("batchItemFailures"):
        return 500
    return 200
