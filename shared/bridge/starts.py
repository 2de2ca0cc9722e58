"""Session starts: the request's validation, and the tenant's answer classified as AMPECO would. No boto3."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from bridge.error_codes import UNSPECIFIED_REJECTION
from bridge.errors import InvalidInput, MalformedJson
from bridge.ids import parse_id
from bridge.models.starts import Outcome, StartAnswer, StartPath, StartRequest, StartTarget, TenantStartAnswer
from bridge.validation import INVALID, invalid_input, parse_json

RECORD_CAP_BYTES = 8 * 1024  # any tenant or request body kept in a record or message
PASS_THROUGH = frozenset({400, 404, 409, 422, 429})
FOREIGN_TOKEN = frozenset({401, 403})  # the bridge's own token is wrong: not the caller's problem


# ---------------------------------------------------------------------- input
def parse_target(path: StartPath, charge_point: str | None, evse: str) -> StartTarget:
    """Path ids are positive integers below 2**53, in canonical ASCII decimal."""
    errors = {}
    values = {}
    for name, raw in (("chargePoint", charge_point), ("evse", evse)):
        if raw is None:
            continue
        value = parse_id(raw)
        if value is None:
            errors[name] = [f"The {name} must be a positive integer."]
        else:
            values[name] = value
    if errors:
        raise InvalidInput(INVALID, errors=errors)
    if path is StartPath.CHARGE_POINT:
        return StartTarget(path, charge_point=values["chargePoint"], evse_network_id=values["evse"])
    return StartTarget(path, evse_id=values["evse"])


def parse_start_body(body: bytes) -> bytes:
    """Validate as AMPECO does; returns what to forward (no body is `{}`).

    Strict JSON first (400): pydantic alone would take NaN, Infinity and 1e400 and forward them.
    """
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


def classify(status: int, body: bytes, retry_after: str | None, attempt_id: str) -> tuple[dict[str, Any], StartAnswer]:
    """The tenant's answer as an attempt result and the bridge's HTTP answer."""
    text, truncated = cap(body)
    recorded: dict[str, Any] = {"tenant_status": status, "tenant_body": text, "tenant_body_truncated": truncated}
    if 200 <= status < 300:
        try:
            parse_json(body)  # strictly JSON first: NaN or 1e400 as a sessionId is not AMPECO's answer
            parsed = TenantStartAnswer.model_validate_json(body)
        except (ValidationError, MalformedJson):
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
