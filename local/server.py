"""An HTTP front for the real handlers: what API Gateway does for the Lambda functions, on 127.0.0.1."""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.deliveries import Deliveries
from local.http_server import ThreadedHTTPServer
from local.lambda_runtime import Invoke, api_gateway_event, handler_invoker, make_context
from local.stack import Stack
from local.template import Route, TemplateModel

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit; the handlers enforce their own, smaller one
# Lambda refuses a synchronous invocation whose payload, the whole API Gateway event as JSON, is over 6 MiB; API
# Gateway then answers 413 {"message": "Request Too Long"} and the function never runs (docs/security.md).
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
# Room for what API Gateway adds to a real event and the local one lacks (edge headers such as Via, X-Amz-Cf-Id
# and CloudFront-*, which appear twice: headers and multiValueHeaders), so the local cut errs on the low side.
EVENT_HEADROOM = 8 * 1024
_GATEWAY_REFUSALS = {403: "missing_api_key", 413: "oversize"}
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}

LocalResponse = tuple[int, Any]
"""A local-only helper's answer: (status, JSON-serialisable body, or a LocalContent sent as it is)."""
LocalHelper = Callable[[bytes], LocalResponse]
"""A local-only helper: the request body -> its answer."""

LocalQueryHelper = Callable[[bytes, list[tuple[str, str]]], LocalResponse]
"""A local-only helper that reads the query string too: (the request body, the query's pairs) -> its answer."""
DELIVERIES_PATH = "/_local/deliveries"


@dataclass(frozen=True)
class LocalContent:
    """A local helper's body with its own content type (a page, a script), sent as it is rather than as JSON."""

    content_type: str
    body: bytes


class PortInUse(OSError):
    """Something already listens on the port; the text is the one line `make run` stops with."""

    @classmethod
    def at(cls, host: str, port: int) -> PortInUse:
        other = port + 1 if port < 65535 else 3000
        return cls(
            f"{host}:{port} is in use (another local run?): stop it, or set PORT=... to another port,"
            f" e.g. PORT={other} make run"
        )


def check_port_free(host: str, port: int) -> None:
    """PortInUse unless host:port can be bound now, as the server binds it: a run stops before it builds anything."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server does: TIME_WAIT is no hindrance
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse.at(host, port) from exc
            raise


def invocation_payload_size(event: dict[str, Any]) -> int:
    """Bytes of an event as a Lambda payload, counted high: every non-ASCII character as a 6-byte escape."""
    return len(json.dumps(event).encode())


def over_lambda_payload_limit(event: dict[str, Any]) -> bool:
    """Whether Lambda would refuse to be invoked with this event (with EVENT_HEADROOM to spare)."""
    return invocation_payload_size(event) + EVENT_HEADROOM > LAMBDA_PAYLOAD_LIMIT


class _ReplyError(Exception):
    """A response API Gateway itself would give, without reaching a function."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = json.dumps({"message": message}).encode()
        self.headers = headers or {}


class BridgeServer:
    """Serves the template's API routes (without the stage prefix) and the local-only helpers."""

    def __init__(
        self,
        stack: Stack,
        template_model: TemplateModel,
        port: int = 3000,
        api_key: str = "local-api-key",
        *,
        deliveries: Deliveries | None = None,
        invoke: Invoke | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.stack = stack
        self.template = template_model
        self.api_key = api_key
        # API Gateway gives each usage-plan key an id; handlers may scope by it (e.g. idempotency).
        self.api_key_id = "local-" + hashlib.sha256(api_key.encode()).hexdigest()[:12]
        self.stage = str(stack.parameters.get("StageName") or "v1")
        self.deliveries = deliveries
        self.invoke = invoke or handler_invoker(template_model)
        # Literal paths before templated ones, as API Gateway prefers the more specific resource.
        self.routes = sorted(template_model.routes(), key=lambda r: r.path.count("{"))
        self.local_routes: dict[tuple[str, str], LocalQueryHelper] = {}
        self.add_local_query_route("GET", DELIVERIES_PATH, self._deliveries)
        try:
            self._httpd = ThreadedHTTPServer((host, port), _handler_class(self))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortInUse.at(host, port) from exc  # taken since check_port_free, or never checked
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host if isinstance(host, str) else host.decode()}:{self.port}"

    def add_local_route(self, method: str, path: str, helper: LocalHelper) -> None:
        """A local-only, keyless endpoint (e.g. the tenant simulator's controls)."""
        self.add_local_query_route(method, path, lambda body, _query: helper(body))

    def add_local_query_route(self, method: str, path: str, helper: LocalQueryHelper) -> None:
        """A local-only, keyless endpoint that reads the query string too."""
        self.local_routes[(method.upper(), path)] = helper

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="bridge-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _deliveries(self, _body: bytes, query: list[tuple[str, str]]) -> LocalResponse:
        if self.deliveries is None:
            return 200, []
        return self.deliveries.listing(query)

    # ------------------------------------------------------------------ request handling
    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route for method and raw path, with decoded path parameters; 404 or 405 otherwise."""
        matches = [(route, params) for route in self.routes if (params := route.match(path)) is not None]
        if not matches:
            raise _ReplyError(404, "Not found.")
        for route, params in matches:
            if route.method in {method, "ANY"}:
                return route, {name: unquote(value) for name, value in params.items()}
        allowed = ", ".join(sorted({route.method for route, _ in matches}))
        raise _ReplyError(405, "Method Not Allowed", {"Allow": allowed})

    def check_api_key(self, route: Route, headers: list[tuple[str, str]]) -> None:
        if not route.api_key_required:
            return
        sent = [value for name, value in headers if name.lower() == "x-api-key"]
        if not sent or not hmac.compare_digest(sent[-1].encode(), self.api_key.encode()):
            raise _ReplyError(403, "Forbidden")

    def forwarded_headers(self, headers: list[tuple[str, str]], client_ip: str) -> list[tuple[str, str]]:
        """The headers API Gateway sets itself, for plain HTTP on this port (handlers build links from them)."""
        own = {"x-forwarded-proto", "x-forwarded-port", "x-forwarded-for"}
        chain = [value for name, value in headers if name.lower() == "x-forwarded-for"]
        kept = [(name, value) for name, value in headers if name.lower() not in own]
        if not any(name.lower() == "host" for name, _ in kept):
            kept.append(("Host", f"127.0.0.1:{self.port}"))
        return [
            *kept,
            ("X-Forwarded-For", ", ".join([*chain, client_ip])),
            ("X-Forwarded-Port", str(self.port)),
            ("X-Forwarded-Proto", "http"),
        ]

    def call_function(
        self,
        route: Route,
        method: str,
        raw_path: str,
        params: dict[str, str],
        query: list[tuple[str, str]],
        headers: list[tuple[str, str]],
        body: bytes,
        client_ip: str,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Invoke the route's function with an API Gateway event and translate its proxy response."""
        path = unquote(raw_path)
        headers = self.forwarded_headers(headers, client_ip)
        event = api_gateway_event(
            method,
            path,
            route.path,
            params,
            query,
            headers,
            body,
            stage=self.stage,
            api_key_id=self.api_key_id if route.api_key_required else None,
            # Served without the stage prefix: requestContext.path equals event.path, so a handler that
            # derives its link base from the difference gets none locally and `/v1` in AWS.
            context_path=path,
            source_ip=client_ip,
        )
        if over_lambda_payload_limit(event):
            # Escaping and base64 make the event larger than the body, so a body under 6 MiB can be too large.
            raise _ReplyError(413, "Request Too Long")
        try:
            result = self.invoke(route.function, event, make_context(self.template, route.function))
            return _proxy_response(result)
        except Exception:
            # A Lambda error or a malformed proxy response: API Gateway answers 502 and logs.
            log.exception("%s failed on %s %s", route.function, method, raw_path)
            raise _ReplyError(502, "Internal server error") from None


def _proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        raise TypeError(f"malformed Lambda proxy response: {result!r:.200}")
    merged: dict[str, list[str]] = {k: [str(v)] for k, v in (result.get("headers") or {}).items()}
    # Where both maps name a header, API Gateway uses the multi-value one.
    merged.update({k: [str(v) for v in vs] for k, vs in (result.get("multiValueHeaders") or {}).items()})
    headers = [(k, v) for k, vs in merged.items() for v in vs if k.lower() not in _HOP_BY_HOP]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw


def _handler_class(server: BridgeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_RequestHandler):
        bridge = server

    return Handler


class _RequestHandler(BaseHTTPRequestHandler):
    bridge: BridgeServer
    _body_consumed = False
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server_version = "ampeco-bridge-local"

    def __getattr__(self, name: str) -> Callable[[], None]:
        # http.server answers 501 to verbs without a do_X method; API Gateway never 5xxs on a method.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        method = self.command.upper()
        split = urlsplit(self.path)
        raw_path = split.path or "/"
        headers = list(self.headers.items())
        self._body_consumed = False
        try:
            helper = self.bridge.local_routes.get((method, raw_path))
            if helper is not None:
                status, payload = helper(self._read_body(), parse_qsl(split.query, keep_blank_values=True))
                if isinstance(payload, LocalContent):
                    self._send(status, [("Content-Type", payload.content_type)], payload.body)
                else:
                    self._send(status, [("Content-Type", "application/json")], json.dumps(payload).encode())
                return
            if any(path == raw_path for _, path in self.bridge.local_routes):
                allowed = sorted(m for m, path in self.bridge.local_routes if path == raw_path)
                raise _ReplyError(405, "Method Not Allowed", {"Allow": ", ".join(allowed)})
            route, params = self.bridge.resolve(method, raw_path)
            self.bridge.check_api_key(route, headers)
            body = self._read_body()
            query = parse_qsl(split.query, keep_blank_values=True)
            client_ip = self.client_address[0]
            status, out_headers, out_body = self.bridge.call_function(
                route, method, raw_path, params, query, headers, body, client_ip
            )
            self._send(status, out_headers, out_body)
        except _ReplyError as reply:
            if reply.status in _GATEWAY_REFUSALS:
                # What API Gateway refuses itself is visible in its access log; here, in this line (no key value).
                log.warning("request refused: %s on %s %s", _GATEWAY_REFUSALS[reply.status], method, raw_path)
            if not self._body_consumed and self._has_body():
                self.close_connection = True  # an unread body would be parsed as the next request
            self._send(reply.status, [("Content-Type", "application/json"), *reply.headers.items()], reply.body)
        except Exception:
            log.exception("local adapter failed on %s %s", method, self.path)
            body = json.dumps({"message": "Internal server error"}).encode()
            self._send(502, [("Content-Type", "application/json")], body)

    def _has_body(self) -> bool:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        return chunked or self.headers.get("Content-Length", "0").strip() not in {"", "0"}

    def _read_body(self) -> bytes:
        self._body_consumed = True
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise _ReplyError(400, "Bad Request") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body stays unread on the socket
            raise _ReplyError(413, "Request Too Long")
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self.close_connection = True
                raise _ReplyError(400, "Bad Request") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers up to the blank line
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self.close_connection = True
                raise _ReplyError(413, "Request Too Long")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
