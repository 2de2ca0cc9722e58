"""Fixtures shared by the integration tests beyond the bridge itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.harness import Bridge


@pytest.fixture
def local_run(bridge: Bridge) -> Iterator[str]:
    """The bridge behind the local run's HTTP server and in-memory AWS endpoint (what `bridge --local` talks to)."""
    from local.__main__ import serve_stack
    from local.aws_endpoint import AwsEndpoint
    from local.server import BridgeServer

    server = BridgeServer(bridge.stack, bridge.stack.template, port=0, deliveries=bridge.deliveries)
    endpoint = AwsEndpoint(bridge.deliveries.record)
    endpoint.start()
    serve_stack(server, bridge.stack, endpoint.url)
    server.start()
    yield server.url
    server.stop()
    endpoint.stop()
