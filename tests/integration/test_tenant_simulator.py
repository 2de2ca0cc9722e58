"""The embedded AMPECO tenant simulator over real HTTP on 127.0.0.1, called through the bridge's TenantClient."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bridge.errors import UpstreamError
from bridge.signatures import verify_ampeco_signature
from bridge.tenant_client import TenantAnswer, TenantClient
from local.tenant_sim import EVSE_PATH_CHARGE_POINT_ID, TenantSimulator, start_simulator
from tests.contract.schemas import assert_valid, is_valid

TOKEN = "sim-token"
TENANT = "sim-tenant"
CP_PATH = "/public-api/actions/charge-point/v1.0/12/start/3"
EVSE_PATH = "/public-api/actions/evse/v1.0/77/start"
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 never via a proxy
X_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Receiver:
    """A tiny webhook endpoint: records every POST and answers `status`."""

    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._cond:
                    receiver.received.append((self.path, dict(self.headers.items()), raw))
                    receiver._cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/ampeco"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, dict[str, str], bytes]]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.received) >= count, timeout=timeout), self.received
            return list(self.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def tenant() -> Iterator[TenantSimulator]:
    """One simulator without a webhook for the tests that only look at answers (stopping one takes ~50 ms)."""
    simulator = start_simulator(TOKEN, None, TENANT)
    yield simulator
    simulator.stop()


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[TenantSimulator]:
    simulator = start_simulator(TOKEN, receiver.url, TENANT)
    yield simulator
    simulator.stop()


def client(sim: TenantSimulator, timeout: float = 5, **kwargs: Any) -> TenantClient:
    return TenantClient(sim.url, lambda: TOKEN, timeout, **kwargs)


def start(sim: TenantSimulator, body: Any = None, path: str = CP_PATH, timeout: float = 5) -> TenantAnswer:
    raw = b"" if body is None else json.dumps(body).encode()
    return client(sim, timeout).post_json(path, raw)


def payload(answer: TenantAnswer) -> Any:
    """The answer's JSON body (failing the test when it is not JSON)."""
    data = answer.json()
    assert data is not None, answer.body[:200]
    return data


def raw_request(url: str, method: str = "POST", body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with DIRECT.open(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers.items()), json.loads(exc.read())


def expect_timeout(call: Any) -> None:
    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        call()
    assert (caught.value.error_code, caught.value.status) == ("UPSTREAM_TIMEOUT", 504)
    assert time.monotonic() - started < 2.5


# -- starts -----------------------------------------------------------------------------------------


def test_a_start_round_trip_is_202_with_new_ids_and_the_bearer_arrives(sim: TenantSimulator) -> None:
    answer = start(sim, {"idTag": "FLEET-1"})

    assert answer.status == 202
    assert answer.content_type == "application/json"
    body = payload(answer)
    assert_valid("start_response_202", body)
    assert body["success"] is True
    assert isinstance(body["sessionId"], int)
    assert isinstance(body["authorizationId"], int)
    assert set(body) == {"success", "sessionId", "authorizationId"}
    (call,) = sim.calls
    assert (call.method, call.path, call.body) == ("POST", CP_PATH, {"idTag": "FLEET-1"})
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert payload(start(sim, {"idTag": "FLEET-1"}))["sessionId"] != body["sessionId"]


@pytest.mark.parametrize("raw", [b"", b"{}", b'{"userId": 5, "futureField": [1]}'])
@pytest.mark.parametrize("path", [CP_PATH, EVSE_PATH])
def test_no_body_empty_object_and_unknown_fields_start_a_session(
    tenant: TenantSimulator, raw: bytes, path: str
) -> None:
    answer = client(tenant).post_json(path, raw)
    assert answer.status == 202
    assert payload(answer)["success"] is True


@pytest.mark.parametrize("code", ["PAYMENT_NO_FUNDS", "SESSION_ALREADY_RUNNING", "SOME_FUTURE_CODE_2"])
def test_sim_code_rejects_with_that_error_code(tenant: TenantSimulator, code: str) -> None:
    answer = start(tenant, {"idTag": f"SIM:{code}"})
    assert answer.status == 202
    body = payload(answer)
    assert_valid("start_response_202", body)
    assert body["success"] is False
    assert body["sessionId"] is None
    assert body["authorizationId"] is None
    assert body["errorCode"] == code
    assert body["message"]


def test_sim_reject_has_no_error_code(tenant: TenantSimulator) -> None:
    body = payload(start(tenant, {"idTag": "SIM:REJECT"}, path=EVSE_PATH))
    assert_valid("start_response_202", body)
    assert body["success"] is False
    assert "errorCode" not in body


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429, 500, 502, 503])
def test_sim_http_answers_that_status_in_ampeco_error_format(tenant: TenantSimulator, status: int) -> None:
    answer = start(tenant, {"idTag": f"SIM:HTTP_{status}"})
    assert answer.status == status
    body = payload(answer)
    assert_valid("error", body)
    assert ("errors" in body) == (status == 422)
    if status == 422:
        assert body["errors"]["idTag"]
    assert answer.retry_after == ("30" if status in (429, 503) else None)


def test_sim_garbage_is_202_json_that_is_not_ampecos_shape(tenant: TenantSimulator) -> None:
    answer = start(tenant, {"idTag": "SIM:GARBAGE"})
    assert answer.status == 202
    assert payload(answer) == {"unexpected": True}
    assert not is_valid("start_response_202", payload(answer))


def test_sim_timeout_never_answers_within_the_deadline(tenant: TenantSimulator) -> None:
    expect_timeout(lambda: start(tenant, {"idTag": "SIM:TIMEOUT"}, timeout=0.5))


def test_sim_drip_cannot_stretch_the_deadline(tenant: TenantSimulator) -> None:
    expect_timeout(lambda: start(tenant, {"idTag": "SIM:DRIP"}, timeout=0.5))


def test_sim_huge_is_over_the_cap(tenant: TenantSimulator) -> None:
    with pytest.raises(UpstreamError) as caught:
        start(tenant, {"idTag": "SIM:HUGE"})
    assert (caught.value.error_code, caught.value.status) == ("UPSTREAM_INVALID_RESPONSE", 502)
    # With a larger cap the whole MiB arrives: a valid rejection padded in its message.
    answer = client(tenant, max_response_bytes=2 * 1024 * 1024).post_json(CP_PATH, b'{"idTag": "SIM:HUGE"}')
    assert len(answer.body) == 1024 * 1024
    assert_valid("start_response_202", payload(answer))


def test_stop_releases_a_held_timeout_request(receiver: Receiver) -> None:
    simulator = start_simulator(TOKEN, receiver.url, TENANT)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            start(simulator, {"idTag": "SIM:TIMEOUT"}, timeout=25)
        except UpstreamError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    deadline = time.monotonic() + 5
    while not simulator.calls and time.monotonic() < deadline:
        time.sleep(0.01)  # polling for the request to arrive, bounded
    simulator.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert [getattr(e, "error_code", None) for e in outcome] == ["UPSTREAM_UNAVAILABLE"]


# -- what AMPECO refuses before the start logic -----------------------------------------------------


def test_missing_or_wrong_bearer_is_401(sim: TenantSimulator) -> None:
    status, _, body = raw_request(sim.url + CP_PATH, body=b"{}")
    assert (status, body) == (401, {"message": "Unauthenticated."})
    answer = TenantClient(sim.url, lambda: "wrong", 5).post_json(CP_PATH, b"{}")
    assert (answer.status, payload(answer)) == (401, {"message": "Unauthenticated."})
    assert [call.headers.get("Authorization") for call in sim.calls] == [None, "Bearer wrong"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [(b"{not json", "body"), (b"[1, 2]", "body"), (b'{"idTag": 42}', "idTag")],
)
def test_invalid_payload_is_422_with_errors(tenant: TenantSimulator, raw: bytes, field: str) -> None:
    answer = client(tenant).post_json(CP_PATH, raw)
    assert answer.status == 422
    assert_valid("error", payload(answer))
    assert payload(answer)["errors"][field]


@pytest.mark.parametrize(
    "path", ["/nope", "/public-api/actions/charge-point/v1.0/abc/start/1", "/public-api/actions/evse/v1.0/x/start"]
)
def test_unknown_path_or_non_integer_id_is_404(tenant: TenantSimulator, path: str) -> None:
    answer = client(tenant).post_json(path, b"{}")
    assert (answer.status, payload(answer)) == (404, {"message": "Not found."})


def test_other_methods_on_a_start_route_are_405(tenant: TenantSimulator) -> None:
    status, headers, body = raw_request(tenant.url + CP_PATH, method="GET")
    assert status == 405
    assert headers["Allow"] == "POST"
    assert_valid("error", body)


# -- notifications ----------------------------------------------------------------------------------


def test_a_started_session_is_notified_signed_start_stop_then_session_update(
    sim: TenantSimulator, receiver: Receiver
) -> None:
    answer = payload(start(sim, {"idTag": "FLEET-1", "userId": 10458, "connectorId": 2}))

    (path1, headers1, raw1), (path2, headers2, raw2) = receiver.wait_for(2)
    assert path1 == path2 == "/webhooks/ampeco"
    for headers, raw in ((headers1, raw1), (headers2, raw2)):
        expected = hmac.new(TOKEN.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Signature"] == expected
        verify_ampeco_signature(raw, headers["X-Signature"], TOKEN)  # the bridge's own check agrees
        assert headers["X-Tenant"] == TENANT
        assert X_TIMESTAMP.match(headers["X-Timestamp"])
        assert headers["Content-Type"] == "application/json"

    start_stop, update = json.loads(raw1), json.loads(raw2)
    assert_valid("notification_session_start_stop", start_stop)
    assert start_stop["notification"] == "session.start.stop.notification"
    assert start_stop["action"] == "start"
    assert start_stop["sessionId"] == answer["sessionId"]
    assert (start_stop["chargePointId"], start_stop["evseId"]) == (12, 3)
    assert (start_stop["idTag"], start_stop["userId"]) == ("FLEET-1", 10458)

    assert_valid("notification_session_update", update)
    session = update["session"]
    assert_valid("session", session)  # the bridge's stored shape: randomisedDelay present
    assert session["id"] == str(answer["sessionId"])
    assert session["authorizationId"] == answer["authorizationId"]
    assert session["status"] == "active"
    assert (session["chargePointId"], session["evseId"], session["connectorId"]) == (12, 3, 2)
    assert (session["idTag"], session["userId"]) == ("FLEET-1", 10458)
    assert session["startedAt"] == start_stop["startedAtTimestamp"]
    assert type(session["randomisedDelay"]) is int
    assert 0 <= session["randomisedDelay"] <= 600
    assert session["lastUpdatedAt"] >= start_stop["lastUpdatedAt"]

    sent = sim.wait_for_notifications(2)
    assert [(s.notification, s.status, s.error) for s in sent] == [
        ("session.start.stop.notification", 202, None),
        ("SessionUpdateNotification", 202, None),
    ]
    assert [s.raw_body for s in sent] == [raw1, raw2]


def test_evse_path_anonymous_session_notifications(sim: TenantSimulator, receiver: Receiver) -> None:
    answer = payload(start(sim, path=EVSE_PATH))
    start_stop, update = (json.loads(raw) for _, _, raw in receiver.wait_for(2))
    assert_valid("notification_session_start_stop", start_stop)
    assert_valid("notification_session_update", update)
    assert start_stop["sessionId"] == answer["sessionId"]
    assert (start_stop["chargePointId"], start_stop["evseId"]) == (EVSE_PATH_CHARGE_POINT_ID, 77)
    assert "userId" not in start_stop  # omitted for anonymous sessions
    assert "idTag" not in start_stop
    assert update["session"]["userId"] is None
    assert update["session"]["evseId"] == 77


def test_only_started_sessions_are_notified(sim: TenantSimulator, receiver: Receiver) -> None:
    for tag in ("SIM:REJECT", "SIM:PAYMENT_NO_FUNDS", "SIM:HTTP_429", "SIM:GARBAGE"):
        start(sim, {"idTag": tag})
    started = payload(start(sim, {"idTag": "OK"}))
    receiver.wait_for(2)
    # A bounded wait for a third delivery that must not come.
    sent = sim.wait_for_notifications(3, timeout=0.3)
    ids = [s.body.get("sessionId") or int(s.body["session"]["id"]) for s in sent]
    assert ids == [started["sessionId"]] * 2


def test_delivery_failures_are_recorded_and_never_fatal(receiver: Receiver) -> None:
    receiver.status = 500
    with TenantSimulator(TOKEN, receiver.url, TENANT) as simulator:
        start(simulator)
        assert [s.status for s in simulator.wait_for_notifications(2)] == [500, 500]

    with socket_that_refuses() as dead_url, TenantSimulator(TOKEN, dead_url, TENANT) as simulator:
        start(simulator)
        sent = simulator.wait_for_notifications(2)
        assert [s.status for s in sent] == [None, None]
        assert all(s.error for s in sent)
        assert start(simulator, {"idTag": "SIM:REJECT"}).status == 202  # still serving


def test_without_a_webhook_url_nothing_is_sent() -> None:
    with TenantSimulator(TOKEN, None) as simulator:
        assert start(simulator).status == 202
        assert simulator.wait_for_notifications(1, timeout=0.2) == []


@contextlib.contextmanager
def socket_that_refuses() -> Iterator[str]:
    """A URL on 127.0.0.1 where nothing listens (bound, then closed)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    yield f"http://127.0.0.1:{port}/webhooks/ampeco"
