"""The real handlers on moto built from template.yaml, driven the way API Gateway and Lambda drive them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3

from local.aws import ACCOUNT_ID, REGION
from local.deliveries import Deliveries
from local.faults import fault as fault
from local.intercept import OperationCounter, add_observer, remove_observer
from local.lambda_runtime import api_gateway_event, handler_invoker, make_context
from local.stack import Stack
from local.streams import StreamPump
from local.template import Route

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"bridge-test-webhook-secret-0001").decode()
OLD_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"bridge-test-webhook-secret-0000").decode()
AMPECO_TOKEN = "test-ampeco-token"
CURSOR_SECRET = "test-cursor-secret"
API_KEY_ID = "test-api-key-id"
SECRETS = {
    "WebhookSecret": f"{WEBHOOK_SECRET} {OLD_WEBHOOK_SECRET}",
    "AmpecoApiToken": AMPECO_TOKEN,
    "CursorSecret": CURSOR_SECRET,
}


@dataclass
class Answer:
    """An HTTP answer from a handler."""

    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Bridge:
    """One test's bridge: stack, handlers, stream pump, and a count of DynamoDB operations."""

    stack: Stack
    pump: StreamPump
    deliveries: Deliveries
    dynamodb_calls: Counter[str] = field(default_factory=Counter)
    _counter: OperationCounter | None = None

    # ------------------------------------------------------------------ HTTP
    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        headers: dict[str, str] | None = None,
        api_key: bool = True,
    ) -> Answer:
        """Send one request through API Gateway's event shape to the route's real handler."""
        parts = urlsplit(url)
        route, params = self.route(method, parts.path)
        raw = _as_bytes(body)
        all_headers = {"Host": "bridge.example.com", "Content-Type": "application/json", **(headers or {})}
        if api_key and route.api_key_required:
            all_headers.setdefault("x-api-key", "test-api-key")
        event = api_gateway_event(
            method,
            parts.path,
            route.path,
            params,
            parse_qsl(parts.query, keep_blank_values=True),
            all_headers,
            raw,
            api_key_id=API_KEY_ID if route.api_key_required else None,
        )
        result = handler_invoker(self.stack.template)(
            route.function, event, make_context(self.stack.template, route.function)
        )
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode()
        headers_out = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers_out[name.lower()] = values[-1]
        return Answer(int(result["statusCode"]), headers_out, text)

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        for route in self.stack.template.routes():
            params = route.match(path)
            if params is not None and route.method == method.upper():
                return route, params
        raise AssertionError(f"no route for {method} {path} in template.yaml")

    # ------------------------------------------------------------------ webhooks
    def push(
        self,
        charge_point: int | str,
        body: Any,
        *,
        webhook_id: str | None = None,
        secret: str | None = None,
        master: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """A direct security-log push signed with Standard Webhooks: by default with the charge point's own
        secret derived from `master`; `secret` signs with any other (a master, another charge point's)."""
        raw = _as_bytes(body) or b""
        key = secret or push_secret(charge_point, master)
        signed = sign_push(raw, webhook_id or f"msg_{uuid.uuid4().hex}", key, timestamp)
        return self.request(
            "POST",
            f"/webhooks/charge-points/{charge_point}/security-events",
            body=raw,
            headers={**signed, **(headers or {})},
        )

    def notify(
        self, body: Any, *, token: str = AMPECO_TOKEN, encoding: str = "hex", headers: dict[str, str] | None = None
    ) -> Answer:
        """An AMPECO notification signed with the API token."""
        raw = _as_bytes(body) or b""
        signed = {"X-Signature": sign_ampeco(raw, token, encoding), "X-Timestamp": "2026-11-25T10:00:00.000000Z"}
        return self.request("POST", "/webhooks/ampeco", body=raw, headers={**signed, **(headers or {})})

    # ------------------------------------------------------------------ observation
    def relay(self) -> int:
        """Run the stream relay over everything written so far."""
        return self.pump.drain(timeout=10)

    def reconcile(self) -> Any:
        """One scheduled run of the reconciler (its summary)."""
        from local.event_sources import scheduled_event

        template = self.stack.template
        event = scheduled_event(f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/reconcile")
        return handler_invoker(template)("ReconcilerFunction", event, make_context(template, "ReconcilerFunction"))

    def queue_messages(self, queue_logical_id: str) -> list[dict[str, Any]]:
        """Everything waiting in a subscriber queue (raw delivery: bodies are the envelopes)."""
        sqs = boto3.client("sqs", region_name=REGION)
        url = self.stack.refs[queue_logical_id]
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
                "Messages", []
            )
            if not got:
                break
            for message in got:
                messages.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def table_items(self, table_logical_id: str) -> list[dict[str, Any]]:
        """Every item of a table (tests only: a Scan, never on a request path)."""
        client = boto3.client("dynamodb", region_name=REGION)
        return list(client.scan(TableName=self.stack.refs[table_logical_id])["Items"])

    def count_dynamodb_calls(self) -> None:
        """Count every DynamoDB operation any client in this process makes from now on (into dynamodb_calls)."""
        self.dynamodb_calls.clear()
        if self._counter is None:
            self._counter = OperationCounter("dynamodb", self.dynamodb_calls)
            add_observer(self._counter)

    def close(self) -> None:
        """Stop observing: the next test's calls are its own."""
        if self._counter is not None:
            remove_observer(self._counter)
            self._counter = None
        self.deliveries.uninstall()


# ---------------------------------------------------------------------- signing (what senders do)
def push_secret(charge_point: int | str, master: str = WEBHOOK_SECRET) -> str:
    """A charge point's own secret, derived as contract section 3 writes it (independently of the bridge's code)."""
    key = base64.b64decode(master.removeprefix("whsec_"))
    digest = hmac.new(key, f"charge-point:{charge_point}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def sign_push(body: bytes, webhook_id: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Standard Webhooks headers for a body, made by the `standardwebhooks` library as a sender makes them."""
    from standardwebhooks.webhooks import Webhook

    sent = int(time.time()) if timestamp is None else timestamp
    try:
        signature = Webhook(secret).sign(
            webhook_id, datetime.fromtimestamp(sent, tz=UTC), body.decode("utf-8", "replace")
        )
    except (ValueError, OverflowError, OSError):
        # A time no datetime holds (a test of the timestamp check): signed by hand, the same way.
        key = base64.b64decode(secret.removeprefix("whsec_"))
        digest = hmac.new(key, f"{webhook_id}.{sent}.".encode() + body, hashlib.sha256).digest()
        signature = "v1," + base64.b64encode(digest).decode()
    return {"webhook-id": webhook_id, "webhook-timestamp": str(sent), "webhook-signature": signature}


def sign_ampeco(body: bytes, token: str, encoding: str = "hex") -> str:
    """AMPECO's X-Signature: HMAC-SHA256 of the body keyed with the API token."""
    digest = hmac.new(token.encode(), body, hashlib.sha256).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def _as_bytes(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def security_event(
    type_: str = "FirmwareUpdated", at: str | None = None, tech_info: str | None = None
) -> dict[str, Any]:
    """A direct-push event body."""
    event: dict[str, Any] = {"type": type_, "timestamp": at or datetime.now(UTC).isoformat()}
    if tech_info is not None:
        event["techInfo"] = tech_info
    return event


@contextmanager
def open_bridge(tenant_url: str) -> Iterator[Bridge]:
    """A bridge on moto built from template.yaml, its handlers pointed at the tenant, closed after."""
    from bridge import secrets
    from local.aws import in_memory_aws
    from local.lambda_runtime import apply_environment

    with in_memory_aws():
        stack = Stack.create(parameters={"AmpecoBaseUrl": tenant_url}, secrets=SECRETS)
        apply_environment(stack)
        secrets.clear_cache()
        bridge = Bridge(stack, make_pump(stack), Deliveries.install(stack))
        try:
            yield bridge
        finally:
            bridge.close()


def make_pump(stack: Stack) -> StreamPump:
    return StreamPump(stack, stack.template, handler_invoker(stack.template))
