"""The local run's answer to a body API Gateway would take (up to 10 MB) but Lambda could not be invoked with.

Lambda refuses a synchronous invocation whose payload, the whole API Gateway event as JSON, is over 6 MiB, and
API Gateway then answers 413 {"message": "Request Too Long"} without running the function (docs/security.md).
The local server does the same, over a real socket, with a cut that errs low (local/server.py).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from local.aws import in_memory_aws
from local.lambda_runtime import FakeLambdaContext, api_gateway_event
from local.server import (
    EVENT_HEADROOM,
    LAMBDA_PAYLOAD_LIMIT,
    MAX_BODY_BYTES,
    BridgeServer,
    invocation_payload_size,
    over_lambda_payload_limit,
)
from local.stack import Stack

PUSH = "/webhooks/charge-points/7/security-events"
SIX_AND_A_HALF_MB = 6_500_000


@dataclass
class Recorder:
    """Stands in for the functions: records each invocation, answers 202."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, function: str, event: dict[str, Any], context: FakeLambdaContext) -> Any:
        with self.lock:
            self.calls.append(event)
        return {"statusCode": 202, "body": "{}"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with in_memory_aws():
        yield Stack.create()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(stack: Stack, recorder: Recorder) -> Iterator[BridgeServer]:
    running = BridgeServer(stack, stack.template, 0, "test-key", invoke=recorder)
    running.start()
    yield running
    running.stop()


def post(connection: http.client.HTTPConnection, body: bytes, *, chunked: bool = False) -> tuple[int, Any]:
    if chunked:
        connection.request("POST", PUSH, body=iter([body[i : i + 65536] for i in range(0, len(body), 65536)]))
    else:
        connection.request("POST", PUSH, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def test_a_six_and_a_half_mb_body_is_413_and_never_reaches_the_function(
    server: BridgeServer, recorder: Recorder
) -> None:
    # Given a body over Lambda's payload limit but under API Gateway's
    body = b"a" * SIX_AND_A_HALF_MB
    assert LAMBDA_PAYLOAD_LIMIT < len(body) < MAX_BODY_BYTES
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        # When it is sent over a real socket
        status, answer = post(connection, body)

        # Then the answer is API Gateway's 413, in AMPECO's error format, and no function ran
        assert status == 413
        assert answer == {"message": "Request Too Long"}
        assert recorder.calls == []
        # And the body was read whole: the same connection serves the next request
        connection.request("GET", "/health")
        assert connection.getresponse().status == 202
        assert len(recorder.calls) == 1
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_413_too(server: BridgeServer, recorder: Recorder) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        assert post(connection, b"a" * SIX_AND_A_HALF_MB, chunked=True) == (413, {"message": "Request Too Long"})
    finally:
        connection.close()
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("case", "body"),
    [
        # JSON escapes each quote inside the event's body string: twice the bytes.
        ("quotes", b'"' * (4 * 1024 * 1024)),
        # Not UTF-8, so the event carries it base64-encoded: a third more.
        ("binary", b"\xff" * (5 * 1024 * 1024)),
    ],
)
def test_a_body_under_6_mib_is_413_when_its_event_is_over(
    server: BridgeServer, recorder: Recorder, case: str, body: bytes
) -> None:
    assert len(body) < LAMBDA_PAYLOAD_LIMIT
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        assert post(connection, body) == (413, {"message": "Request Too Long"}), case
    finally:
        connection.close()
    assert recorder.calls == []


def test_a_large_body_under_the_limit_still_reaches_the_function(server: BridgeServer, recorder: Recorder) -> None:
    # The function's own cap (256 KiB, its 413) applies to everything the gateway lets through.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        assert post(connection, b"a" * (5 * 1024 * 1024)) == (202, {})
    finally:
        connection.close()
    assert len(recorder.calls) == 1
    assert len(recorder.calls[0]["body"]) == 5 * 1024 * 1024


def test_the_cut_is_the_event_size_plus_the_headroom_to_the_byte() -> None:
    def event(body_length: int) -> dict[str, Any]:
        return api_gateway_event("POST", PUSH, PUSH, {"chargePoint": "7"}, [], [], b"a" * body_length)

    # Given the body length whose event, with the headroom, is exactly Lambda's limit
    overhead = invocation_payload_size(event(1)) - 1
    fits = LAMBDA_PAYLOAD_LIMIT - EVENT_HEADROOM - overhead
    # (generated ids and times have fixed widths, so the size moves with the body alone)
    assert invocation_payload_size(event(fits)) + EVENT_HEADROOM == LAMBDA_PAYLOAD_LIMIT

    # Then that event is accepted and one more byte is not
    assert not over_lambda_payload_limit(event(fits))
    assert over_lambda_payload_limit(event(fits + 1))


def test_non_ascii_is_counted_at_its_longest_encoding() -> None:
    # "é" is 2 bytes of UTF-8 and 6 as \u00e9: counting 6 can only overestimate what API Gateway sends.
    plain = api_gateway_event("POST", PUSH, PUSH, None, [], [], b"e")
    accented = api_gateway_event("POST", PUSH, PUSH, None, [], [], "é".encode())
    assert invocation_payload_size(accented) - invocation_payload_size(plain) == len("\\u00e9") - 1
