"""The local run's API docs: Swagger UI at /docs, served from local assets, with this run's own document."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from local.docs import DOCS_PATH, DOCUMENT_PATH, SCRIPT_PATH, STYLE_PATH, serve_docs
from local.openapi_doc import DOC_PATH
from local.server import BridgeServer
from tests.harness import Bridge


@pytest.fixture
def server(bridge: Bridge) -> Iterator[BridgeServer]:
    served = BridgeServer(bridge.stack, bridge.stack.template, 0, "test-local-key")
    serve_docs(served)
    served.start()
    yield served
    served.stop()


def get(server: BridgeServer, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        return reply.status, reply.getheader("Content-Type") or "", reply.read()
    finally:
        connection.close()


def test_the_docs_page_loads_swagger_ui_from_this_server_only(server: BridgeServer) -> None:
    status, content_type, body = get(server, DOCS_PATH)
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    page = body.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert set(sources) == {SCRIPT_PATH, STYLE_PATH}, "every asset from this server, none from a CDN"
    assert f'url: "{DOCUMENT_PATH}"' in page
    for path, expected in ((SCRIPT_PATH, "text/javascript"), (STYLE_PATH, "text/css")):
        status, content_type, asset = get(server, path)
        assert status == 200, path
        assert content_type.startswith(expected)
        assert len(asset) > 100_000


def test_the_served_document_is_the_committed_one_with_this_run_as_its_server(server: BridgeServer) -> None:
    status, content_type, body = get(server, DOCUMENT_PATH)
    assert (status, content_type) == (200, "application/json")
    served = json.loads(body)
    assert served["servers"] == [{"url": server.url, "description": "This local run"}]
    committed = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    assert {**served, "servers": None} == {**committed, "servers": None}
    assert urlsplit(server.url).hostname == "127.0.0.1"


def test_the_docs_routes_are_not_api_routes(server: BridgeServer) -> None:
    paths = {route.path for route in server.template.routes()}
    assert not any(path.startswith("/docs") for path in paths), "never in the deployed API"
