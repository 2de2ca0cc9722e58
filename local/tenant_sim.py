"""An embedded AMPECO tenant for the local run and the tests: a real HTTP server on 127.0.0.1.

The bridge calls it over HTTP exactly as it calls AMPECO (the two start endpoints, bearer token), and it
answers in the shapes of AMPECO Public API 3.110.0. The request's `idTag` picks the outcome:

- `SIM:<CODE>` (`[A-Z][A-Z0-9_]*`, any code other than the words below): 202, `success: false`, that `errorCode`
- `SIM:REJECT`: 202, `success: false`, no `errorCode` field
- `SIM:TIMEOUT`: holds the connection without answering (up to `timeout_hint_seconds`, then closes it)
- `SIM:HTTP_<status>` (200..599): that status with `{"message"}` (422 adds `errors.idTag`; 429 and 503 add
  `Retry-After: 30`; 204 and 304 have no body); `HTTP_` with another number is an ordinary rejection code
- `SIM:GARBAGE`: 202 with the valid JSON `{"unexpected": true}`, which is not AMPECO's shape
- `SIM:DRIP`: 202 headers, then a (valid rejection) body one byte every 0.2 s
- `SIM:HUGE`: 202 with a 1 MiB body (a valid rejection padded in `message`)
- anything else, no `idTag`, no body or `{}`: 202 `{"success": true, "sessionId", "authorizationId"}`, then
  (in the background, after `notification_delay_seconds`) the signed `session.start.stop.notification`
  and `SessionUpdateNotification` to `webhook_url`, as a tenant configured with that callback would.

Malformed JSON, a body that is not an object or a non-string `idTag` get 422 `{message, errors}`: the
spec declares no 400 for the start endpoints, only 422 "The payload you provided is invalid".
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import random
import re
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from local.http_server import ThreadedHTTPServer

log = logging.getLogger(__name__)

CHARGE_POINT_START = re.compile(
    r"^/public-api/actions/charge-point/v1\.0/(?P<charge_point>[^/]+)/start/(?P<evse>[^/]+)$"
)
EVSE_START = re.compile(r"^/public-api/actions/evse/v1\.0/(?P<evse>[^/]+)/start$")
SIM_TAG = re.compile(r"^SIM:(?P<code>[A-Z][A-Z0-9_]*)$")
SIM_HTTP = re.compile(r"^HTTP_(?P<status>[0-9]{3})$")

# The EVSE path names only the EVSE; this tenant puts every such EVSE on one charge point.
EVSE_PATH_CHARGE_POINT_ID = 1000
DEFAULT_CONNECTOR_ID = 1
MAX_REQUEST_BYTES = 1024 * 1024
HUGE_BODY_BYTES = 1024 * 1024
DRIP_INTERVAL_SECONDS = 0.2
RETRY_AFTER_SECONDS = "30"
DELIVERY_TIMEOUT_SECONDS = 5.0

# Deliveries go straight to the webhook URL, never through an http_proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))

_MESSAGES = {
    400: "Bad Request.",
    401: "Unauthenticated.",
    403: "This action is unauthorized.",
    404: "Not found.",
    405: "Method Not Allowed.",
    409: "Conflict.",
    422: "The selected id tag is invalid.",
    429: "Too Many Attempts.",
    500: "Server Error.",
    502: "Bad Gateway.",
    503: "Service Unavailable.",
    504: "Gateway Timeout.",
}


@dataclass(frozen=True)
class SimCall:
    """One request the simulator received (recorded before it is answered)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any | None  # the parsed JSON body; None when absent or not JSON
    raw_body: bytes = b""


@dataclass(frozen=True)
class SentNotification:
    """One notification the simulator tried to deliver; `status` is None when no HTTP answer came."""

    notification: str
    url: str
    body: dict[str, Any]
    raw_body: bytes
    headers: dict[str, str]
    status: int | None
    error: str | None = None


@dataclass
class _Session:
    session_id: int
    authorization_id: int
    charge_point_id: int
    evse_id: int
    connector_id: int | None
    user_id: int | None
    id_tag: str | None
    started_at: datetime
    randomised_delay: int = field(default_factory=lambda: random.randint(0, 600))


class TenantSimulator:
    """A fake AMPECO tenant. `start()` returns its base URL; `stop()` ends every request it holds."""

    def __init__(
        self,
        token: str,
        webhook_url: str | None,
        tenant: str = "local-tenant",
        timeout_hint_seconds: float = 30,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        notification_delay_seconds: float = 0.05,
    ) -> None:
        self.token = token
        self.webhook_url = webhook_url
        self.tenant = tenant
        self.timeout_hint_seconds = timeout_hint_seconds
        self.notification_delay_seconds = notification_delay_seconds
        self._address = (host, port)
        self._lock = threading.Condition()
        self._calls: list[SimCall] = []
        self._sent: list[SentNotification] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._url: str | None = None
        self._open_sockets: set[socket.socket] = set()
        self._deliveries: list[threading.Thread] = []
        # Ids below 2^53 that do not repeat across simulators in one process (tests start many).
        base = random.randrange(1, 9_000) * 1_000_000
        self._session_ids = itertools.count(base + 1)
        self._authorization_ids = itertools.count(base + 500_001)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError("the tenant simulator is already started")
        self._server = _Server(self._address, _Handler, self)
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="tenant-sim", daemon=True
        )
        self._serve_thread.start()
        host, port = self._server.server_address[:2]
        self._url = f"http://{host!s}:{port}"
        log.info("AMPECO tenant simulator on %s (notifications to %s)", self.url, self.webhook_url or "nowhere")
        return self.url

    def stop(self) -> None:
        self._stopping.set()  # wakes SIM:TIMEOUT / SIM:DRIP handlers and pending deliveries
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            sockets = list(self._open_sockets)
            deliveries = list(self._deliveries)
        for sock in sockets:  # idle keep-alive connections would otherwise hold their threads
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in deliveries:
            thread.join(timeout=DELIVERY_TIMEOUT_SECONDS)
        if self._serve_thread is not None:
            self._serve_thread.join(timeout=5)

    def __enter__(self) -> TenantSimulator:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL (kept after `stop()` for logs)."""
        if self._url is None:
            raise RuntimeError("the tenant simulator was never started")
        return self._url

    # -- what happened -----------------------------------------------------------------------------

    @property
    def calls(self) -> list[SimCall]:
        with self._lock:
            return list(self._calls)

    @property
    def sent_notifications(self) -> list[SentNotification]:
        with self._lock:
            return list(self._sent)

    def wait_for_notifications(self, count: int, timeout: float = 5.0) -> list[SentNotification]:
        """Block until at least `count` deliveries were attempted (or `timeout` passes); returns them all."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._sent) >= count, timeout=timeout)
            return list(self._sent)

    # -- internals used by the handler -------------------------------------------------------------

    def _record_call(self, call: SimCall) -> None:
        with self._lock:
            self._calls.append(call)

    def _track(self, sock: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._open_sockets.add(sock)
            else:
                self._open_sockets.discard(sock)

    def _new_session(self, charge_point_id: int, evse_id: int, body: dict[str, Any]) -> _Session:
        with self._lock:
            session_id = next(self._session_ids)
            authorization_id = next(self._authorization_ids)
        connector = body.get("connectorId")
        user = body.get("userId")
        tag = body.get("idTag")
        if not isinstance(tag, str):
            # AMPECO stores the deprecated externalSessionId in the session's idTag when no idTag is given.
            legacy = body.get("externalSessionId")
            tag = legacy if isinstance(legacy, str) else None
        return _Session(
            session_id=session_id,
            authorization_id=authorization_id,
            charge_point_id=charge_point_id,
            evse_id=evse_id,
            connector_id=connector if _is_int(connector) else DEFAULT_CONNECTOR_ID,
            user_id=user if _is_int(user) else None,
            id_tag=tag,
            started_at=datetime.now(UTC).replace(microsecond=0),
        )

    def _notify_later(self, session: _Session) -> None:
        url = self.webhook_url
        if not url:
            return
        thread = threading.Thread(target=self._deliver_all, args=(url, session), name="tenant-sim-notify", daemon=True)
        with self._lock:
            self._deliveries = [t for t in self._deliveries if t.is_alive()]
            self._deliveries.append(thread)
        thread.start()

    def _deliver_all(self, url: str, session: _Session) -> None:
        # The delay lets the bridge's start answer go out first, as with a real tenant and charge point.
        if self._stopping.wait(self.notification_delay_seconds):
            return
        for body in (start_stop_notification(session), session_update_notification(session)):
            if self._stopping.is_set():
                return
            self._deliver(url, body)

    def _deliver(self, url: str, body: dict[str, Any]) -> None:
        raw = json.dumps(body, separators=(",", ":")).encode()
        headers = signed_headers(raw, self.token, self.tenant)
        status: int | None = None
        error: str | None = None
        request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
        try:
            with _DIRECT.open(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
                status = response.status
                response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            error = f"HTTP {exc.code}"
            exc.close()
        except (OSError, ValueError) as exc:  # refused, reset, timeout, bad URL: logged, never fatal
            error = f"{type(exc).__name__}: {exc}"
        if error:
            log.warning("tenant simulator: %s to %s failed: %s", body["notification"], url, error)
        sent = SentNotification(str(body["notification"]), url, body, raw, headers, status, error)
        with self._lock:
            self._sent.append(sent)
            self._lock.notify_all()


def start_simulator(token: str, webhook_url: str | None, tenant: str = "local-tenant") -> TenantSimulator:
    """A started simulator (its base URL is `.url`)."""
    simulator = TenantSimulator(token, webhook_url, tenant)
    simulator.start()
    return simulator


# -- AMPECO shapes ---------------------------------------------------------------------------------


def start_stop_notification(session: _Session) -> dict[str, Any]:
    """`session.start.stop.notification` for a start (AMPECO 3.110.0 callback); userId omitted when anonymous."""
    body: dict[str, Any] = {
        "notification": "session.start.stop.notification",
        "sessionId": session.session_id,
        "chargePointId": session.charge_point_id,
        "evseId": session.evse_id,
        "action": "start",
        "startedAtTimestamp": _iso(session.started_at),
        "meterStart": 0,
        "meterStop": 0,
        "lastUpdatedAt": _iso(session.started_at),
        "externalAppData": None,
    }
    if session.user_id is not None:
        body["userId"] = session.user_id
    if session.id_tag is not None:
        body["idTag"] = session.id_tag
    return body


def session_update_notification(session: _Session) -> dict[str, Any]:
    """`SessionUpdateNotification` with the full Session (AMPECO 3.110.0) of a session that just started."""
    data: dict[str, Any] = {
        "id": str(session.session_id),
        "chargePointId": session.charge_point_id,
        "evseId": session.evse_id,
        "connectorId": session.connector_id,
        "status": "active",
        "userId": session.user_id,
        "startedAt": _iso(session.started_at),
        "stoppedAt": None,
        "energy": 0,
        "authorizationId": session.authorization_id,
        "paymentStatus": None,
        "lastUpdatedAt": _iso(session.started_at),
        "randomisedDelay": session.randomised_delay,
        "externalAppData": None,
        "energyConsumption": {"total": 0, "grid": 0},
        "billingStatus": None,
        "power": {"latest": None, "peak": None, "average": None},
    }
    if session.id_tag is not None:
        data["idTag"] = session.id_tag
    return {"notification": "SessionUpdateNotification", "session": data}


def signed_headers(raw: bytes, token: str, tenant: str) -> dict[str, str]:
    """AMPECO's notification headers: hex HMAC-SHA256 of the raw body keyed with the API token."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "ampeco-tenant-simulator",
        "X-Signature": hmac.new(token.encode(), raw, hashlib.sha256).hexdigest(),
        "X-Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "X-Tenant": tenant,
    }


def rejection(code: str | None, message: str) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "sessionId": None, "authorizationId": None, "message": message}
    if code is not None:
        body["errorCode"] = code
    return body


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _message(status: int) -> str:
    if status in _MESSAGES:
        return _MESSAGES[status]
    try:
        return HTTPStatus(status).phrase + "."
    except ValueError:
        return f"Simulated HTTP {status}."


# -- HTTP --------------------------------------------------------------------------------------------


class _Server(ThreadedHTTPServer):
    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], simulator: TenantSimulator
    ) -> None:
        self.simulator = simulator
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the bridge's connection pool expects of AMPECO
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall
    server: _Server

    @property
    def sim(self) -> TenantSimulator:
        return self.server.simulator

    def setup(self) -> None:
        super().setup()
        self.sim._track(self.connection, open_=True)

    def finish(self) -> None:
        self.sim._track(self.connection, open_=False)
        with contextlib.suppress(OSError):  # the client went away (e.g. after its deadline): nothing to flush
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("tenant simulator: " + format, *args)

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            self._handle()
        except OSError:
            self.close_connection = True  # the client hung up mid-answer
        except Exception:
            log.exception("tenant simulator: unexpected error")
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send_json(500, {"message": "Server Error."})

    def _handle(self) -> None:
        raw = self._read_body()
        if raw is None:
            return
        path = urlsplit(self.path).path
        try:
            parsed: Any | None = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
        self.sim._record_call(SimCall(self.command, self.path, dict(self.headers.items()), parsed, raw))

        cp_match, evse_match = CHARGE_POINT_START.match(path), EVSE_START.match(path)
        if not (cp_match or evse_match):
            self._send_json(404, {"message": "Not found."})
            return
        if self.command != "POST":
            message = (
                f"The {self.command} method is not supported for route {path.lstrip('/')}. Supported methods: POST."
            )
            self._send_json(405, {"message": message}, {"Allow": "POST"})
            return
        if not self._authorized():
            self._send_json(401, {"message": "Unauthenticated."})
            return
        ids = _path_ids(cp_match, evse_match)
        if ids is None:
            self._send_json(404, {"message": "Not found."})  # AMPECO's ids are integers
            return
        body = self._start_body(raw)
        if body is None:
            return
        self._start(ids, body)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send_json(411, {"message": "Length Required."})
            return None
        length_header = self.headers.get("Content-Length", "0").strip() or "0"
        if not length_header.isdigit():
            self.close_connection = True
            self._send_json(400, {"message": "Bad Request."})
            return None
        length = int(length_header)
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._send_json(413, {"message": "Payload Too Large."})
            return None
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.sim.token.encode())

    def _start_body(self, raw: bytes) -> dict[str, Any] | None:
        """The request body as an object ({} when empty), or None after answering 422."""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            self._invalid("body", "The request body must be valid JSON.")
            return None
        if not isinstance(body, dict):
            self._invalid("body", "The request body must be a JSON object.")
            return None
        if "idTag" in body and not isinstance(body["idTag"], str):
            self._invalid("idTag", "The id tag field must be a string.")
            return None
        return body

    def _invalid(self, field_name: str, message: str) -> None:
        self._send_json(422, {"message": message, "errors": {field_name: [message]}})

    def _start(self, ids: tuple[int, int], body: dict[str, Any]) -> None:
        tag = body.get("idTag")
        match = SIM_TAG.match(tag) if isinstance(tag, str) else None
        code = match.group("code") if match else None
        http_match = SIM_HTTP.match(code) if code else None
        if http_match and 200 <= int(http_match.group("status")) <= 599:
            self._http_status(int(http_match.group("status")))
        elif code == "TIMEOUT":
            self._hold()
        elif code == "REJECT":
            self._send_json(202, rejection(None, "The charging session could not be started."))
        elif code == "GARBAGE":
            self._send_json(202, {"unexpected": True})
        elif code == "DRIP":
            self._drip()
        elif code == "HUGE":
            self._huge()
        elif code is not None:
            self._send_json(202, rejection(code, f"Simulated rejection: {code}."))
        else:
            session = self.sim._new_session(ids[0], ids[1], body)
            answer = {"success": True, "sessionId": session.session_id, "authorizationId": session.authorization_id}
            self._send_json(202, answer)
            self.sim._notify_later(session)  # after the answer is on the wire

    def _http_status(self, status: int) -> None:
        headers = {"Retry-After": RETRY_AFTER_SECONDS} if status in (429, 503) else {}
        if status in (204, 304):
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            return
        body: dict[str, Any] = {"message": _message(status)}
        if status == 422:
            body["errors"] = {"idTag": [body["message"]]}
        self._send_json(status, body, headers)

    def _hold(self) -> None:
        # Never answers in time: nothing is sent, then the connection is dropped (or the simulator stops).
        self.sim._stopping.wait(self.sim.timeout_hint_seconds)
        self.close_connection = True

    def _drip(self) -> None:
        payload = _encode(rejection("INTERNAL_ISSUE", "Dripped slowly."))
        self._send_head(202, len(payload))
        for index in range(len(payload)):
            if self.sim._stopping.wait(DRIP_INTERVAL_SECONDS):
                self.close_connection = True
                return
            self.wfile.write(payload[index : index + 1])
            self.wfile.flush()

    def _huge(self) -> None:
        shell = _encode(rejection("INTERNAL_ISSUE", ""))
        payload = _encode(rejection("INTERNAL_ISSUE", "x" * (HUGE_BODY_BYTES - len(shell))))
        self._send_head(202, len(payload))
        self.close_connection = True  # the client stops reading at its cap
        for offset in range(0, len(payload), 64 * 1024):
            self.wfile.write(payload[offset : offset + 64 * 1024])

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = _encode(body)
        self._send_head(status, len(payload), headers)
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_head(self, status: int, length: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()


def _path_ids(cp_match: re.Match[str] | None, evse_match: re.Match[str] | None) -> tuple[int, int] | None:
    """(chargePointId, evseId) for the session; on the charge-point path this tenant's EVSE ids equal the
    network ids in the path."""
    if cp_match:
        charge_point, evse = cp_match.group("charge_point"), cp_match.group("evse")
        if charge_point.isdigit() and evse.isdigit():
            return int(charge_point), int(evse)
        return None
    if evse_match and evse_match.group("evse").isdigit():
        return EVSE_PATH_CHARGE_POINT_ID, int(evse_match.group("evse"))
    return None


def _encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()
