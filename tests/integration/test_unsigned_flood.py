"""A flood of unsigned pushes at the local run (loopback, bounded): all refused, nothing stored, starts still served.

FLOOD_PUSHES (default 300) and FLOOD_CONCURRENCY (default 30) size it; the figures are printed.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from local.server import BridgeServer
from tests.harness import Bridge, security_event

PUSHES = int(os.environ.get("FLOOD_PUSHES", "300"))
CONCURRENCY = int(os.environ.get("FLOOD_CONCURRENCY", "30"))


@pytest.fixture
def server(bridge: Bridge) -> Iterator[BridgeServer]:
    local = BridgeServer(bridge.stack, bridge.stack.template, port=0, api_key="flood-key", deliveries=bridge.deliveries)
    local.start()
    yield local
    local.stop()


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
    began = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"content-type": "application/json", **headers})
        answer = connection.getresponse()
        answer.read()
        return answer.status, time.monotonic() - began
    finally:
        connection.close()


def test_a_flood_of_unsigned_pushes_is_refused_and_starts_are_still_served(
    bridge: Bridge, server: BridgeServer
) -> None:
    body = json.dumps(security_event("TamperDetectionActivated")).encode()
    unsigned = {"webhook-id": "msg_flood", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"}
    starts: list[tuple[int, float]] = []
    flooding = threading.Event()

    def start_while_flooding() -> None:
        while flooding.is_set() and len(starts) < 50:
            starts.append(
                post(
                    server.port,
                    "/public-api/actions/charge-point/v1.0/12/start/3",
                    b'{"idTag": "FLEET"}',
                    {"x-api-key": "flood-key"},
                )
            )

    flooding.set()
    starter = threading.Thread(target=start_while_flooding)
    starter.start()
    began = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        pushes = list(
            pool.map(
                lambda cp: post(server.port, f"/webhooks/charge-points/{cp % 97 + 1}/security-events", body, unsigned),
                range(PUSHES),
            )
        )
    took = time.monotonic() - began
    flooding.clear()
    starter.join(timeout=60)

    statuses = Counter(status for status, _ in pushes)
    latencies = sorted(seconds for _, seconds in pushes)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    start_latencies = sorted(seconds for _, seconds in starts)
    print(
        f"\nflood: {PUSHES} unsigned pushes at {CONCURRENCY} in {took:.1f} s ({PUSHES / took:.0f}/s): {dict(statuses)};"
        f" p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms;"
        f" {len(starts)} starts meanwhile, {dict(Counter(s for s, _ in starts))},"
        f" p50 {statistics.median(start_latencies) * 1000:.0f} ms"
    )
    assert statuses == Counter({401: PUSHES})
    assert starts
    assert {status for status, _ in starts} == {202}
    assert [i for i in bridge.table_items("SecurityEventsTable") if i["kind"]["S"] == "securityEvent"] == []
    bridge.relay()
    assert [d for d in bridge.deliveries.all() if d["topic"] == "security-events"] == []


def test_the_local_gateway_logs_a_missing_api_key_without_the_key(
    server: BridgeServer, caplog: pytest.LogCaptureFixture
) -> None:
    status, _ = post(server.port, "/public-api/actions/charge-point/v1.0/12/start/3", b"{}", {"x-api-key": "guess"})
    assert status == 403
    [line] = [r.getMessage() for r in caplog.records if "request refused" in r.getMessage()]
    assert line == "request refused: missing_api_key on POST /public-api/actions/charge-point/v1.0/12/start/3"
    assert "guess" not in caplog.text
