"""Reading API Gateway proxy events: raw body, headers, public base URL, query parameters."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from bridge.errors import MalformedJson, PayloadTooLarge

MAX_BODY_BYTES = 256 * 1024


def raw_body(event: APIGatewayProxyEvent, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body's bytes as sent, refused over `limit` before anything reads it."""
    body = event.body or ""
    if event.is_base64_encoded:
        # Base64 is 4/3 of the payload: refuse early without decoding a huge body.
        if len(body) > (limit // 3 + 1) * 4:
            raise PayloadTooLarge("The request body is over 256 KiB.")
        try:
            data = base64.b64decode(body)
        except (ValueError, binascii.Error) as exc:
            raise MalformedJson("The request body could not be decoded.") from exc
    else:
        data = body.encode("utf-8", errors="surrogateescape")
    if len(data) > limit:
        raise PayloadTooLarge("The request body is over 256 KiB.")
    return data


def lower_headers(event: APIGatewayProxyEvent) -> dict[str, str]:
    """Headers by lower-case name (REST events keep the client's case)."""
    return {name.lower(): value for name, value in (event.headers or {}).items()}


def query_parameters(event: APIGatewayProxyEvent) -> dict[str, str]:
    """Single-valued query parameters; for a repeated name the last value wins, as in PHP."""
    multi: Mapping[str, list[str]] = event.multi_value_query_string_parameters or {}
    if multi:
        return {name: values[-1] for name, values in multi.items() if values}
    return dict(event.query_string_parameters or {})


def public_base_url(event: APIGatewayProxyEvent) -> str:
    """Scheme, host and stage path the client used, for absolute links."""
    headers = lower_headers(event)
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip() or "https"
    host = headers.get("host", "localhost")
    full_path = str(event.request_context.raw_event.get("path") or event.path)
    prefix = full_path[: -len(event.path)] if event.path and full_path.endswith(event.path) else ""
    return f"{scheme}://{host}{prefix}"


def api_caller(event: APIGatewayProxyEvent) -> str:
    """Who is calling: the usage-plan API key's id (the key itself when no id is given)."""
    identity = event.request_context.identity
    return str(identity.api_key_id or identity.api_key or "anonymous")
