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
- `SIM:SILENT_START`: starts a session (202 success, stored and listed) and sends no notification for it,
  as when every webhook for it was lost
- `SIM:LATE_START`: starts a session (stored, listed and notified as usual) but holds the answer for
  `timeout_hint_seconds` (less if the simulator stops), then writes the 202 success: after the caller's deadline
- anything else, no `idTag`, no body or `{}`: 202 `{"success": true, "sessionId", "authorizationId"}`, then
  (in the background, after `notification_delay_seconds`) the signed `session.start.stop.notification`
  and `SessionUpdateNotification` to `webhook_url`, as a tenant configured with that callback would.

Malformed JSON, a body that is not an object or a non-string `idTag` get 422 `{message, errors}`: the
spec declares no 400 for the start endpoints, only 422 "The payload you provided is invalid".

It keeps what it generated and lists it with the same bearer token (see `local.tenant_listings` for order,
filters and cursors): `GET /public-api/resources/security-events/v2.0` and `GET /public-api/resources/sessions/v1.0`.
`record_security_event` records a charge point's security event and sends the signed `SecurityEventNotification`.
With `drop_share` above 0 each notification (session or security) is dropped instead of sent with that
probability, as AMPECO drops a webhook it gave up on; `dropped_notifications` lists them.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import json
import logging
import random
import re
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.http_server import ThreadedHTTPServer
from local.tenant_listings import (
    SECURITY_EVENTS_PATH,
    SESSIONS_PATH,
    ListingError,
    security_events_listing,
    sessions_listing,
)
from local.tenant_notifier import DroppedNotification, Notifier, Outgoing, SentNotification
from local.tenant_records import SimSession, TenantRecords, iso_micro, session_resource
from local.tenant_subscriptions import NOTIFICATIONS_PATH, created, subscription_problems

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
        drop_share: float = 0.0,
        drop_seed: int | None = None,
    ) -> None:
        self.token = token
        self.webhook_url = webhook_url
        self.tenant = tenant
        self.timeout_hint_seconds = timeout_hint_seconds
        self.notification_delay_seconds = notification_delay_seconds
        self.records = TenantRecords()
        self._address = (host, port)
        self._lock = threading.Condition()
        self._calls: list[SimCall] = []
        self._listing_failures: list[str | None] = []
        self._subscriptions: list[dict[str, Any]] = []
        self._stopping = threading.Event()
        self._notifier = Notifier(self._stopping, drop_share, drop_seed)
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._url: str | None = None
        self._open_sockets: set[socket.socket] = set()
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
        for sock in sockets:  # idle keep-alive connections would otherwise hold their threads
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._notifier.join()
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
        return self._notifier.sent

    def wait_for_notifications(self, count: int, timeout: float = 5.0) -> list[SentNotification]:
        """Block until at least `count` deliveries were attempted (or `timeout` passes); returns them all."""
        return self._notifier.wait_for_sent(count, timeout)

    @property
    def drop_share(self) -> float:
        """The share of notifications dropped instead of sent."""
        return self._notifier.drop_share

    @property
    def dropped_notifications(self) -> list[DroppedNotification]:
        """Every notification dropped so far (by `drop_share`; not those withheld by `notify=False` or an idTag)."""
        return self._notifier.dropped

    def wait_for_deliveries(self, timeout: float = 5.0) -> bool:
        """Block until every notification scheduled so far was sent or dropped; False if `timeout` passed first."""
        return self._notifier.wait_until_idle(timeout)

    def fail_listings(self, *answers: int | str | None) -> None:
        """Answer the next listing requests with these, one each: None for the page itself, an HTTP status (429
        and 503 carry Retry-After) or "garbage" (200 with a body that is not a listing)."""
        with self._lock:
            self._listing_failures += [None if answer is None else str(answer) for answer in answers]

    @property
    def subscriptions(self) -> list[dict[str, Any]]:
        """The webhook subscriptions registered through AMPECO's notifications API, oldest first."""
        with self._lock:
            return list(self._subscriptions)

    def _subscribe(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            answer = created(len(self._subscriptions) + 1, body)
            self._subscriptions.append(answer["data"])
        if body["via"] == "webhook":
            self.webhook_url = body["webhook"]["callbackUrl"]  # where its notifications go from now on
        return answer

    def _next_listing_failure(self) -> str | None:
        with self._lock:
            return self._listing_failures.pop(0) if self._listing_failures else None

    # -- the tenant's own records ------------------------------------------------------------------

    def record_security_event(
        self,
        charge_point: int,
        type: str,
        timestamp: datetime | str,
        tech_info: str | None = None,
        critical: bool | None = None,
        notify: bool = True,
    ) -> dict[str, Any]:
        """Record a charge point's security event and, unless `notify` is false, send its signed
        `SecurityEventNotification` in the background. Returns the stored item (listing shape plus `critical`).

        `timestamp` is a string as the charge point reported it (ISO-8601 with an offset, sent as is in the
        notification) or an aware datetime; `critical` defaults to whether the type is one of the seven.
        ValueError names each bad argument.
        """
        record = self.records.add_security_event(charge_point, type, timestamp, tech_info, critical)
        log.debug("tenant simulator: security event %s recorded (charge point %s)", record.id, charge_point)
        if notify:
            ids = {"eventId": record.id, "chargePointId": record.charge_point}
            delivery = self._schedule([(record.notification(), ids)], delay=0)
            if delivery is not None:
                delivery.start()
        return record.stored_item()

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

    def _new_session(self, charge_point_id: int, evse_id: int, body: dict[str, Any]) -> SimSession:
        """A started session, stored for the listing."""
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
        started = datetime.now(UTC)
        session = SimSession(
            session_id=session_id,
            authorization_id=authorization_id,
            charge_point_id=charge_point_id,
            evse_id=evse_id,
            connector_id=connector if _is_int(connector) else DEFAULT_CONNECTOR_ID,
            user_id=user if _is_int(user) else None,
            id_tag=tag,
            started_at=started,
            last_updated_at=started,
        )
        self.records.add_session(session)
        return session

    def _session_notifications(self, session: SimSession) -> threading.Thread | None:
        """The session's two notifications, scheduled but not started: the caller starts the thread once
        its answer is written, so the answer goes out first, and `wait_for_deliveries` already counts them."""
        ids = {"sessionId": session.session_id}
        outgoing = [(start_stop_notification(session), ids), (session_update_notification(session), ids)]
        # The delay lets the bridge's start answer go out first, as with a real tenant and charge point.
        return self._schedule(outgoing, delay=self.notification_delay_seconds)

    def _schedule(self, outgoing: list[Outgoing], delay: float) -> threading.Thread | None:
        """A delivery thread for `outgoing` (not started), counted as pending; None without a webhook URL."""
        url = self.webhook_url
        if not url:
            return None
        return self._notifier.schedule(url, self.token, self.tenant, outgoing, delay)


def start_simulator(
    token: str, webhook_url: str | None, tenant: str = "local-tenant", *, drop_share: float = 0.0
) -> TenantSimulator:
    """A started simulator (its base URL is `.url`)."""
    simulator = TenantSimulator(token, webhook_url, tenant, drop_share=drop_share)
    simulator.start()
    return simulator


# -- AMPECO shapes ---------------------------------------------------------------------------------


def start_stop_notification(session: SimSession) -> dict[str, Any]:
    """`session.start.stop.notification` for a start (AMPECO 3.110.0 callback); userId omitted when anonymous."""
    body: dict[str, Any] = {
        "notification": "session.start.stop.notification",
        "sessionId": session.session_id,
        "chargePointId": session.charge_point_id,
        "evseId": session.evse_id,
        "action": "start",
        "startedAtTimestamp": iso_micro(session.started_at),
        "meterStart": 0,
        "meterStop": 0,
        "lastUpdatedAt": iso_micro(session.last_updated_at),
        "externalAppData": None,
    }
    if session.user_id is not None:
        body["userId"] = session.user_id
    if session.id_tag is not None:
        body["idTag"] = session.id_tag
    return body


def session_update_notification(session: SimSession) -> dict[str, Any]:
    """`SessionUpdateNotification` with the full Session (AMPECO 3.110.0) as it stands."""
    return {"notification": "SessionUpdateNotification", "session": session_resource(session)}


def rejection(code: str | None, message: str) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "sessionId": None, "authorizationId": None, "message": message}
    if code is not None:
        body["errorCode"] = code
    return body


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
        split = urlsplit(self.path)
        path = split.path
        try:
            parsed: Any | None = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            parsed = None
        self.sim._record_call(SimCall(self.command, self.path, dict(self.headers.items()), parsed, raw))

        if path in (SECURITY_EVENTS_PATH, SESSIONS_PATH):
            if self._allowed(path, "GET"):
                self._listing(path, parse_qsl(split.query, keep_blank_values=True))
            return
        if path == NOTIFICATIONS_PATH:
            if self._allowed(path, "POST"):
                self._subscribe(parsed)
            return
        cp_match, evse_match = CHARGE_POINT_START.match(path), EVSE_START.match(path)
        if not (cp_match or evse_match):
            self._send_json(404, {"message": "Not found."})
            return
        if not self._allowed(path, "POST"):
            return
        ids = _path_ids(cp_match, evse_match)
        if ids is None:
            self._send_json(404, {"message": "Not found."})  # AMPECO's ids are integers
            return
        body = self._start_body(raw)
        if body is None:
            return
        self._start(ids, body)

    def _allowed(self, path: str, method: str) -> bool:
        """Whether the request may go on: the route's method and the bearer token (405 and 401 answered)."""
        if self.command != method:
            message = (
                f"The {self.command} method is not supported for route {path.lstrip('/')}. Supported methods: {method}."
            )
            self._send_json(405, {"message": message}, {"Allow": method})
            return False
        if not self._authorized():
            self._send_json(401, {"message": "Unauthenticated."})
            return False
        return True

    def _subscribe(self, body: Any) -> None:
        problems = subscription_problems(body)
        if problems:
            first = next(iter(problems.values()))[0]
            self._send_json(422, {"message": first, "errors": problems})
            return
        self._send_json(201, self.sim._subscribe(body))

    def _listing(self, path: str, query: list[tuple[str, str]]) -> None:
        failure = self.sim._next_listing_failure()
        if failure == "garbage":
            self._send_json(200, {"unexpected": True})
            return
        if failure is not None:
            self._http_status(int(failure))
            return
        try:
            if path == SECURITY_EVENTS_PATH:
                body = security_events_listing(self.sim.records.security_events(), query, self.sim.url)
            else:
                body = sessions_listing(self.sim.records.sessions(), query, self.sim.url)
        except ListingError as refused:
            self._send_json(422, refused.body())
            return
        self._send_json(200, body)

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
        elif code == "SILENT_START":
            self._send_json(202, _started(self.sim._new_session(ids[0], ids[1], body)))
        elif code == "LATE_START":
            self._late_start(self.sim._new_session(ids[0], ids[1], body))
        elif code is not None:
            self._send_json(202, rejection(code, f"Simulated rejection: {code}."))
        else:
            session = self.sim._new_session(ids[0], ids[1], body)
            delivery = self.sim._session_notifications(session)
            try:
                self._send_json(202, _started(session))
            finally:  # the session started whether or not its caller is still there to hear it
                if delivery is not None:
                    delivery.start()

    def _late_start(self, session: SimSession) -> None:
        # The session starts and is notified as usual; only its answer comes after the caller gave up.
        delivery = self.sim._session_notifications(session)
        if delivery is not None:
            delivery.start()
        self.sim._stopping.wait(self.sim.timeout_hint_seconds)
        self.close_connection = True
        with contextlib.suppress(OSError):  # the caller has usually gone by now
            self._send_json(202, _started(session))

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


def _started(session: SimSession) -> dict[str, Any]:
    return {"success": True, "sessionId": session.session_id, "authorizationId": session.authorization_id}


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
