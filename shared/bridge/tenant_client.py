"""The HTTP client for the operator's AMPECO tenant: moves bytes under one overall deadline, nothing more.

What the answer means (202 vs 4xx, AMPECO's body shape) is the caller's business. This module only
guarantees three things:

- one deadline for the whole call (connect, send, status line, headers and every body byte) that a
  slow drip cannot stretch: the body is read in small chunks with the socket timeout set to what is left,
  and a watchdog shuts the socket down when the deadline passes wherever the call is blocked (urllib3's
  own timeouts are per socket operation, so a tenant dripping headers would otherwise never time out);
- no retries and no redirects: a retried start can start two sessions;
- a cap on the answer's size, enforced without reading the rest.

Failures are `UpstreamError`s: `UPSTREAM_TIMEOUT` (504), `UPSTREAM_UNAVAILABLE` (502) and
`UPSTREAM_INVALID_RESPONSE` (502, oversized answer).
"""

from __future__ import annotations

import contextlib
import http.client
import json as jsonlib
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from bridge.error_codes import UPSTREAM_TIMEOUT
from bridge.errors import UpstreamError

MAX_TIMEOUT_SECONDS = 25.0  # API Gateway's 29 s integration limit, minus room to record and answer
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
_CHUNK_BYTES = 8 * 1024

TIMEOUT = UPSTREAM_TIMEOUT
UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
INVALID_RESPONSE = "UPSTREAM_INVALID_RESPONSE"


@dataclass(frozen=True)
class TenantAnswer:
    """What the tenant answered, as received (the body is at most `max_response_bytes`)."""

    status: int
    body: bytes
    retry_after: str | None
    content_type: str | None
    elapsed_ms: int

    def json(self) -> Any | None:
        """The body parsed as JSON; None when it is not JSON (or is JSON `null`)."""
        try:
            return jsonlib.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


class TenantClient:
    """Calls one AMPECO tenant. Cheap to construct; connections are pooled per process."""

    def __init__(
        self,
        base_url: str,
        token_provider: Callable[[], str],
        timeout_seconds: float,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not 0 < timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"timeout_seconds must be > 0 and <= {MAX_TIMEOUT_SECONDS:g}, got {timeout_seconds!r}")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be positive")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self._base_url = base_url.rstrip("/")
        self._token_provider = token_provider
        self._timeout = float(timeout_seconds)
        self._max_bytes = max_response_bytes

    @property
    def timeout_seconds(self) -> float:
        return self._timeout

    def post_json(self, path: str, body: bytes, headers: Mapping[str, str] | None = None) -> TenantAnswer:
        """POST `body` to `base_url + path` once; raises `UpstreamError` when no complete answer came in time."""
        return self._call("POST", path, body, {**(headers or {}), "Content-Type": "application/json"}, self._max_bytes)

    def get_json(self, path: str, query: Mapping[str, str], max_response_bytes: int) -> TenantAnswer:
        """GET a listing page once, under the same deadline; the query is encoded here, never taken from a URL
        the tenant gave (a `links.next` could point anywhere)."""
        return self._call("GET", f"{path}?{urlencode(query)}" if query else path, None, {}, max_response_bytes)

    def _call(
        self, method: str, path: str, body: bytes | None, headers: Mapping[str, str], max_bytes: int
    ) -> TenantAnswer:
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        # The token lookup (cached secret) happens before the clock starts: the deadline is the tenant's.
        token = self._token_provider()
        request_headers = dict(headers)
        request_headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Accept-Encoding": "identity",  # the size cap is on what we keep: no decompression bombs
            }
        )
        started = time.monotonic()
        deadline = started + self._timeout
        watchdog = _Watchdog(self._timeout)
        _current.watchdog = watchdog
        watchdog.start()
        try:
            response = self._send(method, path, body, request_headers, deadline, watchdog)
            try:
                data = self._read_body(response, deadline, watchdog, max_bytes)
            except BaseException:
                # Never hand a half-read connection back for reuse.
                response.close()
                raise
            finally:
                response.release_conn()
        finally:
            watchdog.finish()
            _current.watchdog = None
        return TenantAnswer(
            status=response.status,
            body=data,
            retry_after=response.headers.get("Retry-After"),
            content_type=response.headers.get("Content-Type"),
            elapsed_ms=int((time.monotonic() - started) * 1000),
        )

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], deadline: float, watchdog: _Watchdog
    ) -> urllib3.BaseHTTPResponse:
        try:
            return _pool().request(
                method,
                self._base_url + path,
                body=body,
                headers=headers,
                retries=False,
                redirect=False,
                preload_content=False,
                decode_content=False,
                timeout=urllib3.Timeout(total=max(deadline - time.monotonic(), 0.001)),
            )
        except (HTTPError, OSError, http.client.HTTPException) as exc:
            raise _transport_error(exc, deadline, watchdog) from exc

    def _read_body(
        self, response: urllib3.BaseHTTPResponse, deadline: float, watchdog: _Watchdog, max_bytes: int
    ) -> bytes:
        declared = response.headers.get("Content-Length")
        size = (declared or "").strip()
        # ASCII digits only: int() would also read `²` or `١٢` and raise.
        if size.isascii() and size.isdigit() and int(size) > max_bytes:
            raise _too_large(max_bytes)
        data = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or watchdog.fired:
                raise _timeout()
            connection = response.connection
            sock = connection.sock if isinstance(connection, HTTPConnection) else None
            if sock is not None:
                sock.settimeout(remaining)
            try:
                # read1: at most one socket read, so the deadline is checked between drips.
                chunk = response.read1(min(_CHUNK_BYTES, max_bytes + 1 - len(data)))
            except (HTTPError, OSError, http.client.HTTPException) as exc:
                raise _transport_error(exc, deadline, watchdog) from exc
            if not chunk:
                if watchdog.fired:
                    raise _timeout()  # the watchdog's shutdown looks like an end of stream
                return bytes(data)
            data += chunk
            if len(data) > max_bytes:
                raise _too_large(max_bytes)


def _transport_error(exc: BaseException, deadline: float, watchdog: _Watchdog) -> UpstreamError:
    # A socket the watchdog shut down fails with whatever error it happened to be in: it is a timeout.
    if watchdog.fired or time.monotonic() >= deadline:
        return _timeout()
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x, yet it means refused / DNS failure.
    if isinstance(exc, NewConnectionError):
        return UpstreamError("The AMPECO tenant is unreachable.", error_code=UNAVAILABLE, status=502)
    if isinstance(exc, Urllib3TimeoutError | TimeoutError):
        return _timeout()
    return UpstreamError("The connection to the AMPECO tenant failed.", error_code=UNAVAILABLE, status=502)


def _timeout() -> UpstreamError:
    return UpstreamError("The AMPECO tenant did not answer in time.", error_code=TIMEOUT, status=504)


def _too_large(limit: int) -> UpstreamError:
    return UpstreamError(
        f"The AMPECO tenant's answer is larger than {limit} bytes.", error_code=INVALID_RESPONSE, status=502
    )


class _Watchdog:
    """Shuts down the call's socket at the deadline, wherever the call is blocked.

    The connection registers itself when urllib3 sends the request on it (new or reused). Shutting the
    socket down (not closing it) wakes a blocked recv/send in the calling thread, which then fails and is
    reported as a timeout; urllib3 closes the connection afterwards, so it is never reused.
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None
        self._finished = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def start(self) -> None:
        self._timer.start()

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.fired:
                _shutdown(connection)

    def finish(self) -> None:
        with self._lock:
            self._finished = True  # from here the connection may be back in the pool: hands off
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.fired = True
            if self._connection is not None:
                _shutdown(self._connection)


def _shutdown(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:
        return  # still connecting: bounded by the connect timeout
    with contextlib.suppress(OSError):
        # socket.socket's own shutdown, not SSLSocket's (which would drop the TLS object under the reader).
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_current = threading.local()


def _attach_to_current_call(connection: HTTPConnection) -> None:
    watchdog: _Watchdog | None = getattr(_current, "watchdog", None)
    if watchdog is not None:
        watchdog.attach(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_to_current_call(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_to_current_call(self)
        super().request(*args, **kwargs)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOL: urllib3.PoolManager | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> urllib3.PoolManager:
    """One pool per process, created on first use and reused by warm invocations (keep-alive to the tenant)."""
    global _POOL
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                manager = urllib3.PoolManager(num_pools=4, maxsize=8, retries=False)
                manager.pool_classes_by_scheme = {
                    "http": _WatchedHTTPConnectionPool,
                    "https": _WatchedHTTPSConnectionPool,
                }
                _POOL = manager
    return _POOL
