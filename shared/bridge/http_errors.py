"""The one place that turns the error hierarchy into HTTP answers in AMPECO's error format."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from bridge import refusals
from bridge.errors import BridgeError, RetryableError, UpstreamError
from bridge.observability import logger

if TYPE_CHECKING:
    from bridge.models.starts import StartAnswer

JSON = "application/json"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    """A JSON answer with the given status."""
    return Response(
        status_code=status,
        content_type=JSON,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        headers=headers or {},
    )


def error_body(error: BridgeError) -> dict[str, Any]:
    """AMPECO's `{message, errors}`; upstream failures carry `errorCode` instead."""
    if isinstance(error, UpstreamError):
        return {"message": error.message, "errorCode": error.error_code}
    body: dict[str, Any] = {"message": error.message}
    if error.errors:
        body["errors"] = error.errors
    return body


def error_response(error: BridgeError, headers: dict[str, str] | None = None) -> Response[str]:
    """The HTTP answer for a bridge error."""
    extra = dict(headers or {})
    if isinstance(error, RetryableError):
        extra["Retry-After"] = str(error.retry_after)
    return json_response(error.status, error_body(error), extra)


def start_response(answer: StartAnswer) -> Response[str]:
    """A start's answer: the tenant's body unchanged, or the bridge's own; always with the attempt id."""
    headers = {"X-Bridge-Attempt-Id": answer.attempt_id}
    if answer.retry_after:
        headers["Retry-After"] = answer.retry_after
    return Response(status_code=answer.status, content_type=JSON, body=answer.body, headers=headers)


def register_error_handlers(app: ApiGatewayResolver) -> None:
    """Route every failure of a resolver through this module."""

    @app.exception_handler(BridgeError)  # type: ignore[untyped-decorator]
    def _bridge_error(error: BridgeError) -> Response[str]:
        if error.reason:
            event = app.current_event
            path = event.get("pathParameters") or {}
            headers = {name.lower(): value for name, value in (event.headers or {}).items()}
            route = event.get("resource") or event.path
            refusals.record(error, route, path.get("chargePoint"), headers.get("webhook-id"))
        elif error.status >= 500:
            logger.warning("request failed", extra={"status": error.status, "reason": error.message})
        return error_response(error)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        return json_response(404, {"message": "Not found."})

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _unexpected(_: Exception) -> Response[str]:
        logger.exception("unexpected failure")
        return json_response(500, {"message": "Internal server error."})
