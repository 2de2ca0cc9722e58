"""The local servers take a burst of simultaneous connections (issue 7, finding 6).

A listen backlog of 5 makes the kernel drop the SYNs of a burst: clients wait for the retransmit (1 s, then
3 s) or give up. A connect deadline under the first retransmit turns every dropped SYN into a failure here.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator

import pytest

from local.aws import in_memory_aws
from local.lambda_runtime import apply_environment
from local.server import BridgeServer
from local.stack import Stack
from local.tenant_sim import TenantSimulator

CLIENTS = 50
CONNECT_SECONDS = 0.5  # below the kernel's first SYN retransmit (1 s)
ANSWER_SECONDS = 20  # two shared cores: the answers may queue, the connections must not


def burst(port: int, path: str) -> tuple[list[int], list[str]]:
    """CLIENTS connections opened at the same instant, one GET each: (statuses, errors)."""
    start = threading.Barrier(CLIENTS)
    statuses: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        start.wait(timeout=10)
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_SECONDS)
        except OSError as exc:
            with lock:
                errors.append(f"connect: {exc!r}")
            return
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_SECONDS)
        connection.sock = sock
        sock.settimeout(ANSWER_SECONDS)
        try:
            connection.request("GET", path)
            status = connection.getresponse().status
            with lock:
                statuses.append(status)
        except OSError as exc:
            with lock:
                errors.append(f"answer: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=ANSWER_SECONDS + 10)
    return statuses, errors


@pytest.fixture(scope="module")
def bridge_server() -> Iterator[BridgeServer]:
    with in_memory_aws():
        stack = Stack.create()
        apply_environment(stack)
        server = BridgeServer(stack, stack.template, 0, "burst-key")
        server.start()
        yield server
        server.stop()


def test_the_bridge_answers_fifty_simultaneous_connections(bridge_server: BridgeServer) -> None:
    statuses, errors = burst(bridge_server.port, "/health")

    assert errors == []
    assert statuses == [200] * CLIENTS


def test_the_tenant_simulator_answers_fifty_simultaneous_connections() -> None:
    simulator = TenantSimulator(token="burst-token", webhook_url=None)
    simulator.start()
    try:
        port = int(simulator.url.rsplit(":", 1)[1])
        statuses, errors = burst(port, "/no-such-path")
    finally:
        simulator.stop()

    assert errors == []
    assert len(statuses) == CLIENTS
