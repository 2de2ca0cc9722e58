"""Swagger UI at `/docs` and the OpenAPI document at `/docs/openapi.json`: the local run's, never a function's.

The document is built from the loaded handlers' routes, as `make openapi` builds docs/openapi.json, with this
run's URL as its only server, so "Try it out" talks to this run (the API key: Authorize, then `make run`'s).
Swagger UI's script and style are the copies aws-lambda-powertools ships (pinned in shared/requirements.txt),
served from here: the page loads nothing from the internet.
"""

from __future__ import annotations

import logging
import threading
from importlib import resources
from typing import Any

from local.openapi_doc import document
from local.server import BridgeServer, LocalContent, LocalHelper, LocalResponse

log = logging.getLogger(__name__)

DOCS_PATH = "/docs"
DOCUMENT_PATH = "/docs/openapi.json"
SCRIPT_PATH = "/docs/swagger-ui-bundle.min.js"
STYLE_PATH = "/docs/swagger-ui.min.css"
ASSETS = {
    SCRIPT_PATH: ("swagger-ui-bundle.min.js", "text/javascript; charset=utf-8"),
    STYLE_PATH: ("swagger-ui.min.css", "text/css; charset=utf-8"),
}
_SWAGGER_UI = "aws_lambda_powertools.event_handler.openapi.swagger_ui"
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>AMPECO webhook bridge: API</title>
  <link rel="stylesheet" href="{STYLE_PATH}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{SCRIPT_PATH}"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "{DOCUMENT_PATH}",
      dom_id: "#swagger-ui",
      deepLinking: true,
      docExpansion: "list",
      filter: true,
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
      layout: "BaseLayout",
    }});
  </script>
</body>
</html>
"""


class _Docs:
    """The document and the page, built on first use (the handlers are loaded by then) and kept."""

    def __init__(self, bridge: BridgeServer) -> None:
        self._bridge = bridge
        self._lock = threading.Lock()
        self._document: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        with self._lock:
            if self._document is None:
                servers = [{"url": self._bridge.url, "description": "This local run"}]
                self._document = document(self._bridge.template, servers)
            return self._document

    def json(self, _body: bytes) -> LocalResponse:
        try:
            return 200, self.document()
        except Exception:
            log.exception("cannot build the OpenAPI document")
            return 503, {"message": "The OpenAPI document could not be built: see the local run's log."}

    def page(self, _body: bytes) -> LocalResponse:
        return 200, LocalContent("text/html; charset=utf-8", PAGE.encode())


def _asset(name: str, content_type: str) -> LocalHelper:
    content = LocalContent(content_type, resources.files(_SWAGGER_UI).joinpath(name).read_bytes())
    return lambda _body: (200, content)


def serve_docs(bridge: BridgeServer) -> None:
    """Add `/docs` (Swagger UI), `/docs/openapi.json` and the UI's script and style to the local routes."""
    docs = _Docs(bridge)
    bridge.add_local_route("GET", DOCS_PATH, docs.page)
    bridge.add_local_route("GET", DOCUMENT_PATH, docs.json)
    for path, (name, content_type) in ASSETS.items():
        bridge.add_local_route("GET", path, _asset(name, content_type))
