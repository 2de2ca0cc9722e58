"""A WSGI front for the in-process bridge, for schemathesis: what API Gateway and a well-behaved sender add.

schemathesis sends each generated request to this app (`case.call(app=...)`). It routes by template.yaml like
API Gateway (path parameters decoded), puts the API key on client routes, and signs webhook bodies as AMPECO and
the charge points sign them, replacing the generated signature headers; then the real handler answers through the
harness's API Gateway event shape. Unsigned and keyless requests are the other fuzz tests' business.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from local.lambda_runtime import api_gateway_event, handler_invoker, make_context
from local.template import Route
from tests.harness import AMPECO_TOKEN, API_KEY_ID, Answer, Bridge, push_secret, sign_ampeco, sign_push

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
NOTIFICATIONS = "/webhooks/ampeco"
PUSHES = "/webhooks/charge-points/{chargePoint}/security-events"
_PRINTABLE = re.compile(r"^[!-~]{1,200}$")
_REASONS = {200: "OK", 202: "Accepted"}


def wsgi_bridge(bridge: Bridge) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The bridge as a WSGI app."""
    invoke = handler_invoker(bridge.stack.template)
    routes = sorted(bridge.stack.template.routes(), key=lambda r: r.path.count("{"))

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        raw_path = environ.get("RAW_URI") or quote(environ.get("PATH_INFO", "/").encode("latin-1"))
        raw_path = raw_path.split("?", 1)[0]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        answer = send(bridge, invoke, routes, method, raw_path, query, headers, body)
        start_response(f"{answer.status} {_REASONS.get(answer.status, 'Answer')}", list(answer.headers.items()))
        return [answer.text.encode()]

    return app


def send(
    bridge: Bridge,
    invoke: Any,
    routes: list[Route],
    method: str,
    raw_path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
) -> Answer:
    """One request through the route's real handler, keyed and signed as a legitimate caller sends it."""
    found = [(route, params) for route in routes if (params := route.match(raw_path)) is not None]
    if not found:
        return Answer(404, {"content-type": "application/json"}, '{"message":"Not found."}')
    matching = [(route, params) for route, params in found if route.method == method]
    if not matching:
        return Answer(405, {"content-type": "application/json"}, '{"message":"Method Not Allowed"}')
    route, raw_params = matching[0]
    params = {name: unquote(value) for name, value in raw_params.items()}
    headers = {**headers, "host": "bridge.example.com"}
    if route.api_key_required:
        headers["x-api-key"] = "test-api-key"
    if route.path == PUSHES:
        webhook_id = headers.get("webhook-id", "")
        webhook_id = webhook_id if _PRINTABLE.match(webhook_id) else f"msg_{uuid.uuid4().hex}"
        headers.update(sign_push(body, webhook_id, push_secret(params["chargePoint"])))
    if route.path == NOTIFICATIONS:
        headers["x-signature"] = sign_ampeco(body, AMPECO_TOKEN)
    event = api_gateway_event(
        method,
        unquote(raw_path),
        route.path,
        params,
        query,
        headers,
        body,
        api_key_id=API_KEY_ID if route.api_key_required else None,
    )
    result = invoke(route.function, event, make_context(bridge.stack.template, route.function))
    out = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        out[name.lower()] = str(values[-1])
    text = result.get("body") or ""
    if result.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    return Answer(int(result["statusCode"]), out, text)
