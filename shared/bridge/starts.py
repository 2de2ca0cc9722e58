"""Session starts: record the attempt, call the tenant once, answer as AMPECO would. No boto3 here."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from bridge.error_codes import UNSPECIFIED_REJECTION
from bridge.errors import InvalidInput, UpstreamError
from bridge.models.starts import Attempt, Outcome, StartPath, StartRequest, StartTarget, TenantStartAnswer
from bridge.validation import INVALID, invalid_input, parse_json

RECORD_CAP_BYTES = 8 * 1024  # any tenant or request body kept in a record or message
PASS_THROUGH = frozenset({400, 404, 409, 422, 429})
FOREIGN_TOKEN = frozenset({401, 403})  # the bridge's own token is wrong: not the caller's problem


class AttemptStore(Protocol):
    """What the service needs from storage."""

    def create(self, attempt: Attempt) -> None: ...

    def complete(self, attempt: Attempt) -> None: ...


class Tenant(Protocol):
    """The operator's AMPECO tenant."""

    def post_json(self, path: str, body: bytes) -> Any: ...


class DeferredCompletion(Protocol):
    """Where a result goes when the store cannot take it now (completed later)."""

    def __call__(self, attempt: Attempt) -> None: ...


@dataclass(frozen=True)
class StartAnswer:
    """The HTTP answer to a start, and whether an idempotent repeat may be given it again."""

    status: int
    body: str
    attempt_id: str
    retry_after: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        """202s and passed-through 4xx other than 429 are replayed; the rest release the key."""
        return self.status < 500 and self.status != 429

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": self.body,
            "attempt_id": self.attempt_id,
            "retry_after": self.retry_after,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StartAnswer:
        return cls(int(data["status"]), str(data["body"]), str(data["attempt_id"]), data.get("retry_after"))


# ---------------------------------------------------------------------- input
def parse_target(path: StartPath, charge_point: str | None, evse: str) -> StartTarget:
    """Path ids are positive integers below 2**53."""
    errors = {}
    values = {}
    for name, raw in (("chargePoint", charge_point), ("evse", evse)):
        if raw is None:
            continue
        if not raw.isdigit() or len(raw) > 16 or not 0 < int(raw) < 2**53:
            errors[name] = [f"The {name} must be a positive integer."]
        else:
            values[name] = int(raw)
    if errors:
        raise InvalidInput(INVALID, errors=errors)
    if path is StartPath.CHARGE_POINT:
        return StartTarget(path, charge_point=values["chargePoint"], evse_network_id=values["evse"])
    return StartTarget(path, evse_id=values["evse"])


def parse_start_body(body: bytes) -> bytes:
    """Validate as AMPECO does; returns what to forward (no body is `{}`)."""
    if not body.strip():
        return b"{}"
    document = parse_json(body)
    if not isinstance(document, dict):
        raise InvalidInput(INVALID, errors={"body": ["The body must be a JSON object."]})
    try:
        StartRequest.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_input(exc) from exc
    return body


def canonical_body(body: bytes) -> Any:
    """Equal JSON, not equal bytes, is the same request."""
    return parse_json(body) if body.strip() else {}


# ---------------------------------------------------------------------- the start
def start_session(
    store: AttemptStore,
    tenant: Tenant,
    target: StartTarget,
    body: bytes,
    *,
    defer: DeferredCompletion,
    idempotency_key: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> StartAnswer:
    """Store the attempt, call the tenant once, complete the attempt, answer. Never retries the call."""
    request_text, request_truncated = cap(body)
    attempt = Attempt(
        attempt_id=str(uuid.uuid4()),
        target=target,
        request_body=request_text,
        request_truncated=request_truncated,
        created_at=now(),
        idempotency_key=idempotency_key,
    )
    store.create(attempt)  # fails before any effect: 429/503, nothing sent to the tenant

    started = time.monotonic()
    try:
        answer = tenant.post_json(target.tenant_path(), body)
        result, http = classify(answer.status, answer.body, answer.retry_after, attempt.attempt_id)
    except UpstreamError as exc:
        result = {"outcome": Outcome.FAILED, "error_code": exc.error_code}
        http = upstream_answer(exc.status, exc.message, str(exc.error_code), attempt.attempt_id)
    except Exception:
        # Whatever broke, the attempt exists: it is answered and recorded like an unreachable tenant.
        result = {"outcome": Outcome.FAILED, "error_code": "UPSTREAM_UNAVAILABLE"}
        http = upstream_answer(
            502, "The AMPECO tenant could not be reached.", "UPSTREAM_UNAVAILABLE", attempt.attempt_id
        )
    finished = attempt.completed(**result, duration_ms=int((time.monotonic() - started) * 1000), completed_at=now())
    try:
        store.complete(finished)
    except Exception:
        # The tenant has answered: its answer goes back to the caller whatever happens to the record.
        defer(finished)
    return http


def classify(status: int, body: bytes, retry_after: str | None, attempt_id: str) -> tuple[dict[str, Any], StartAnswer]:
    """The tenant's answer as an attempt result and the bridge's HTTP answer."""
    text, truncated = cap(body)
    recorded: dict[str, Any] = {"tenant_status": status, "tenant_body": text, "tenant_body_truncated": truncated}
    if 200 <= status < 300:
        try:
            parsed = TenantStartAnswer.model_validate_json(body)
        except ValidationError:
            return (
                {**recorded, "outcome": Outcome.FAILED, "error_code": "UPSTREAM_INVALID_RESPONSE"},
                upstream_answer(502, "The tenant's answer is not AMPECO's.", "UPSTREAM_INVALID_RESPONSE", attempt_id),
            )
        ids = {"session_id": normalise_id(parsed.sessionId), "authorization_id": normalise_id(parsed.authorizationId)}
        if parsed.success:
            result = {**recorded, **ids, "outcome": Outcome.STARTED}
        else:
            result = {
                **recorded,
                **ids,
                "outcome": Outcome.REJECTED,
                "error_code": parsed.errorCode or UNSPECIFIED_REJECTION,
            }
        # Any 2xx with AMPECO's body counts as AMPECO's 202; the body goes back unchanged.
        return result, StartAnswer(202, body.decode("utf-8", errors="replace"), attempt_id)
    code = f"UPSTREAM_HTTP_{status}"
    failed = {**recorded, "outcome": Outcome.FAILED, "error_code": code}
    if 400 <= status < 500 and status not in FOREIGN_TOKEN:
        return failed, StartAnswer(status, body.decode("utf-8", errors="replace"), attempt_id, retry_after)
    return failed, upstream_answer(502, f"The tenant answered HTTP {status}.", code, attempt_id)


def upstream_answer(status: int, message: str, error_code: str, attempt_id: str) -> StartAnswer:
    """The bridge's own 502/504 body."""
    return StartAnswer(status, json.dumps({"message": message, "errorCode": error_code}), attempt_id)


def normalise_id(value: float | int | None) -> str | None:
    """Session and authorization ids are strings in the resource; numbers in starts."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)


def cap(body: bytes, limit: int = RECORD_CAP_BYTES) -> tuple[str, bool]:
    """A body as text for a record or message, at most `limit` bytes, and whether it was cut."""
    if len(body) <= limit:
        return body.decode("utf-8", errors="replace"), False
    return body[:limit].decode("utf-8", errors="ignore"), True
