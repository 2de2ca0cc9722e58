"""`/_local/faults` in the local run: faults set over HTTP fire in the real handlers' calls, and clear."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest

from local.fault_routes import FAULTS_PATH, FaultBoard, serve_faults
from local.server import BridgeServer
from tests.harness import Bridge

API_KEY = "test-local-key"
LISTING = "/public-api/resources/security-events/v2.0"


@pytest.fixture
def served(bridge: Bridge) -> Iterator[tuple[BridgeServer, FaultBoard]]:
    server = BridgeServer(bridge.stack, bridge.stack.template, 0, API_KEY, deliveries=bridge.deliveries)
    board = serve_faults(server)
    server.start()
    try:
        yield server, board
    finally:
        server.stop()
        board.clear()


def call(server: BridgeServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        connection.request(method, path, body=raw, headers={"x-api-key": API_KEY, "Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_a_fault_posted_fires_in_the_handlers_calls_then_is_listed_and_cleared(
    served: tuple[BridgeServer, FaultBoard],
) -> None:
    server, _ = served
    status, added = call(server, "POST", FAULTS_PATH, {"service": "dynamodb", "operation": "Query", "times": 1})
    assert status == 201
    assert added == {
        "id": added["id"],
        "service": "dynamodb",
        "operation": "Query",
        "kind": "internal",
        "times": 1,
        "fired": 0,
    }

    # The listing's Query fails once (storage unavailable), then the fault is used up
    assert call(server, "GET", LISTING)[0] == 503
    assert call(server, "GET", LISTING)[0] == 200
    assert call(server, "GET", FAULTS_PATH) == (200, [{**added, "fired": 1}])

    assert call(server, "DELETE", FAULTS_PATH) == (200, {"cleared": 1})
    assert call(server, "GET", FAULTS_PATH) == (200, [])


def test_a_cleared_fault_no_longer_fires(served: tuple[BridgeServer, FaultBoard]) -> None:
    server, board = served
    assert (
        call(server, "POST", FAULTS_PATH, {"service": "dynamodb", "operation": "Query", "kind": "throttle"})[0] == 201
    )
    assert call(server, "GET", LISTING)[0] in (429, 503)
    [fault] = board.active()
    assert fault.fired == 1
    call(server, "DELETE", FAULTS_PATH)
    assert call(server, "GET", LISTING)[0] == 200
    assert fault.fired == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        ([], 422, "body"),
        ({"operation": "Query"}, 422, "service"),
        ({"service": "dynamodb", "operation": "Query", "kind": "meteor"}, 422, "kind"),
        ({"service": "dynamodb", "operation": "Query", "times": 0}, 422, "times"),
        ({"service": "dynamodb", "operation": "Query", "times": True}, 422, "times"),
        ({"service": "dynamodb", "operation": "Query", "when": "always"}, 422, "when"),
        ({"service": "dynamo", "operation": "Query"}, 422, "service"),
        ({"service": "dynamodb", "operation": "Querry"}, 422, "operation"),
    ],
)
def test_a_fault_that_could_never_fire_is_refused(body: Any, status: int, field: str | None) -> None:
    board = FaultBoard()
    answered, payload = board.post(body if isinstance(body, bytes) else json.dumps(body).encode())
    assert answered == status, payload
    if field is not None:
        assert field in payload["errors"]
    assert board.active() == []
