"""TenantClient against tiny raw-socket servers on 127.0.0.1: deadline, size cap, no retries, no redirects."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bridge.errors import UpstreamError
from bridge.tenant_client import TenantAnswer, TenantClient

PATH = "/public-api/actions/charge-point/v1.0/12/start/1"
ACCEPTED = json.dumps({"success": True, "sessionId": 1, "authorizationId": 2}).encode()

Handler = Callable[[socket.socket], None]


class RawServer:
    """Accepts connections on 127.0.0.1 and runs `handler(conn)` for each, in its own thread."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._stopping = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.handler(conn)

    def read_request(self, conn: socket.socket) -> bytes:
        """One whole request (head and Content-Length body), or b"" when the client closed."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return b""
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            body += conn.recv(65536)
        request = head + b"\r\n\r\n" + body
        with self._lock:
            self.requests.append(request)
        return request

    def stop(self) -> None:
        self._stopping.set()
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        server = RawServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def respond(conn: socket.socket, status: str, body: bytes, headers: dict[str, str] | None = None) -> None:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def header(request: bytes, name: str) -> str | None:
    for line in request.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        key, _, value = line.decode().partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def expect_upstream(call: Callable[[], TenantAnswer], code: str, status: int) -> float:
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        call()
    assert (caught.value.error_code, caught.value.status) == (code, status)
    return time.monotonic() - started


# -- construction -----------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0, -1, 25.001, 26, 60])
def test_timeout_outside_0_to_25_is_refused(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout_seconds"):
        TenantClient("https://tenant.example", lambda: "t", timeout)


def test_timeout_of_25_is_the_maximum_allowed() -> None:
    assert TenantClient("https://tenant.example", lambda: "t", 25).timeout_seconds == 25


@pytest.mark.parametrize("base_url", ["", "tenant.example", "ftp://tenant.example", "http://"])
def test_base_url_must_be_absolute_http(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        TenantClient(base_url, lambda: "t", 5)


def test_the_pool_is_created_on_first_use_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    import bridge.tenant_client as loaded

    spec = importlib.util.spec_from_file_location("fresh_tenant_client", loaded.__file__)
    assert spec is not None
    assert spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, fresh)  # dataclasses look their module up while it loads
    spec.loader.exec_module(fresh)
    assert fresh._POOL is None


def test_http_and_https_pools_watch_their_connections() -> None:
    from bridge import tenant_client

    pool = tenant_client._pool()
    assert pool is tenant_client._pool()  # one per process
    assert isinstance(pool.connection_from_url("http://tenant.example"), tenant_client._WatchedHTTPConnectionPool)
    assert isinstance(pool.connection_from_url("https://tenant.example"), tenant_client._WatchedHTTPSConnectionPool)


# -- a normal call ----------------------------------------------------------------------------------


def test_post_sends_bearer_json_headers_and_body_and_returns_the_answer(
    serve: Callable[[Handler], RawServer],
) -> None:
    def handler(conn: socket.socket) -> None:
        while server.read_request(conn):
            respond(conn, "202 Accepted", ACCEPTED, {"Retry-After": "7"})

    server = serve(handler)
    tokens = iter(["first-token", "rotated-token"])
    client = TenantClient(server.url + "/", lambda: next(tokens), 5)

    answer = client.post_json(PATH, b'{"idTag":"A"}', {"Idempotency-Key": "k1", "Authorization": "Bearer evil"})
    client.post_json(PATH, b"{}")

    first, second = server.requests
    assert first.startswith(f"POST {PATH} HTTP/1.1".encode())
    assert header(first, "Authorization") == "Bearer first-token"  # the caller cannot override it
    assert header(second, "Authorization") == "Bearer rotated-token"  # asked for on every call
    assert header(first, "Content-Type") == "application/json"
    assert header(first, "Accept") == "application/json"
    assert header(first, "Idempotency-Key") == "k1"
    assert first.endswith(b'\r\n\r\n{"idTag":"A"}')
    assert answer.status == 202
    assert answer.body == ACCEPTED
    assert answer.json() == {"success": True, "sessionId": 1, "authorizationId": 2}
    assert answer.retry_after == "7"
    assert answer.content_type == "application/json"
    assert isinstance(answer.elapsed_ms, int)
    assert answer.elapsed_ms >= 0


def test_connections_are_kept_alive_and_reused(serve: Callable[[Handler], RawServer]) -> None:
    def handler(conn: socket.socket) -> None:
        while server.read_request(conn):
            respond(conn, "202 Accepted", ACCEPTED)

    server = serve(handler)
    client = TenantClient(server.url, lambda: "t", 5)
    for _ in range(3):
        assert client.post_json(PATH, b"{}").status == 202
    assert server.connections == 1


def test_a_body_that_is_not_json_is_returned_as_bytes(serve: Callable[[Handler], RawServer]) -> None:
    def handler(conn: socket.socket) -> None:
        server.read_request(conn)
        respond(conn, "202 Accepted", b"<html>oops</html>", {"Content-Type": "text/html"})

    server = serve(handler)
    answer = TenantClient(server.url, lambda: "t", 5).post_json(PATH, b"{}")
    assert answer.body == b"<html>oops</html>"
    assert answer.json() is None


def test_chunked_and_close_delimited_bodies_are_read_whole(serve: Callable[[Handler], RawServer]) -> None:
    def chunked(conn: socket.socket) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n")
        conn.sendall(b'5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n')

    server = serve(chunked)
    assert TenantClient(server.url, lambda: "t", 5).post_json(PATH, b"{}").json() == {"a": 1}

    def close_delimited(conn: socket.socket) -> None:
        other.read_request(conn)
        conn.sendall(b"HTTP/1.1 409 Conflict\r\nConnection: close\r\n\r\n" + b'{"message":"busy"}')
        conn.close()

    other = serve(close_delimited)
    answer = TenantClient(other.url, lambda: "t", 5).post_json(PATH, b"{}")
    assert (answer.status, answer.json()) == (409, {"message": "busy"})


# -- no retries, no redirects -----------------------------------------------------------------------


def test_a_dropped_connection_is_unavailable_and_never_retried(serve: Callable[[Handler], RawServer]) -> None:
    def handler(conn: socket.socket) -> None:
        server.read_request(conn)
        conn.close()  # the request may have started a session: the client must not send it again

    server = serve(handler)
    expect_upstream(
        lambda: TenantClient(server.url, lambda: "t", 5).post_json(PATH, b"{}"), "UPSTREAM_UNAVAILABLE", 502
    )
    assert server.connections == 1
    assert len(server.requests) == 1


def test_redirects_are_returned_not_followed(serve: Callable[[Handler], RawServer]) -> None:
    def handler(conn: socket.socket) -> None:
        server.read_request(conn)
        respond(conn, "307 Temporary Redirect", b"", {"Location": server.url + "/elsewhere"})

    server = serve(handler)
    answer = TenantClient(server.url, lambda: "t", 5).post_json(PATH, b"{}")
    assert answer.status == 307
    assert len(server.requests) == 1


def test_refused_connection_is_unavailable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: connection refused.
    client = TenantClient(f"http://127.0.0.1:{port}", lambda: "t", 2)
    expect_upstream(lambda: client.post_json(PATH, b"{}"), "UPSTREAM_UNAVAILABLE", 502)


def test_unknown_host_is_unavailable() -> None:
    client = TenantClient("http://tenant.invalid", lambda: "t", 2)
    expect_upstream(lambda: client.post_json(PATH, b"{}"), "UPSTREAM_UNAVAILABLE", 502)


# -- one overall deadline ---------------------------------------------------------------------------


def test_dripped_headers_cannot_stretch_the_deadline(serve: Callable[[Handler], RawServer]) -> None:
    stop = threading.Event()

    def handler(conn: socket.socket) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 202 Accepted\r\n")
        while not stop.wait(0.05):  # each byte resets a per-read socket timeout, never this deadline
            conn.sendall(b"X")

    server = serve(handler)
    try:
        took = expect_upstream(
            lambda: TenantClient(server.url, lambda: "t", 0.5).post_json(PATH, b"{}"), "UPSTREAM_TIMEOUT", 504
        )
    finally:
        stop.set()
    assert took < 2.5


def test_the_pool_works_after_a_timeout(serve: Callable[[Handler], RawServer]) -> None:
    calls: list[int] = []

    def handler(conn: socket.socket) -> None:
        while server.read_request(conn):
            calls.append(1)
            if len(calls) == 1:
                return  # hold the first request: no answer
            respond(conn, "202 Accepted", ACCEPTED)

    server = serve(handler)
    client = TenantClient(server.url, lambda: "t", 0.3)
    expect_upstream(lambda: client.post_json(PATH, b"{}"), "UPSTREAM_TIMEOUT", 504)
    assert client.post_json(PATH, b"{}").status == 202
    assert server.connections == 2  # the timed-out connection was not reused


# -- size cap ---------------------------------------------------------------------------------------


def test_a_declared_oversized_body_fails_without_reading_it(serve: Callable[[Handler], RawServer]) -> None:
    def handler(conn: socket.socket) -> None:
        server.read_request(conn)
        # Claims 10 MiB and sends a few bytes: waiting for them would end in a timeout instead.
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 10485760\r\n\r\n{}")

    server = serve(handler)
    client = TenantClient(server.url, lambda: "t", 5, max_response_bytes=1024)
    took = expect_upstream(lambda: client.post_json(PATH, b"{}"), "UPSTREAM_INVALID_RESPONSE", 502)
    assert took < 2.5


def test_an_undeclared_oversized_body_stops_at_the_cap(serve: Callable[[Handler], RawServer]) -> None:
    def handler(conn: socket.socket) -> None:
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\n")
        try:
            for _ in range(1024):
                conn.sendall(b"x" * 1024)
        finally:
            conn.close()

    server = serve(handler)
    client = TenantClient(server.url, lambda: "t", 5, max_response_bytes=4096)
    expect_upstream(lambda: client.post_json(PATH, b"{}"), "UPSTREAM_INVALID_RESPONSE", 502)


def test_a_body_of_exactly_the_cap_is_accepted(serve: Callable[[Handler], RawServer]) -> None:
    body = b'"' + b"x" * 1022 + b'"'

    def handler(conn: socket.socket) -> None:
        server.read_request(conn)
        respond(conn, "202 Accepted", body)

    server = serve(handler)
    answer = TenantClient(server.url, lambda: "t", 5, max_response_bytes=1024).post_json(PATH, b"{}")
    assert answer.body == body


@pytest.mark.parametrize("declared", ["²", "١٢"])
def test_a_content_length_in_non_ascii_digits_is_ignored_not_a_crash(
    serve: Callable[[Handler], RawServer], declared: str
) -> None:
    def handler(conn: socket.socket) -> None:
        server.read_request(conn)
        head = f"HTTP/1.1 202 Accepted\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n".encode()
        conn.sendall(head + ACCEPTED)
        conn.close()

    server = serve(handler)
    answer = TenantClient(server.url, lambda: "t", 5).post_json(PATH, b"{}")
    assert (answer.status, answer.body) == (202, ACCEPTED)
