"""The local run's in-memory AWS on a loopback port, for the `bridge` CLI and `aws --endpoint-url`.

moto's server application shares its state with the in-process backends the handlers use. Every request
takes the same lock as in-process calls (moto has no per-item locking), and SNS publishes made through it
are recorded with the local run's deliveries, like the relay's own.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from local.aws import MOTO_LOCK

StartResponse = Callable[..., Any]
_MESSAGE_ID = re.compile(rb"<MessageId>([^<]+)</MessageId>")


class AwsEndpoint:
    """Serves moto on 127.0.0.1 in a daemon thread."""

    def __init__(self, record_publish: Callable[[str, dict[str, Any], dict[str, Any]], None] | None = None) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per CLI call is noise here
        self._app = DomainDispatcherApplication(create_backend_app)
        self._record_publish = record_publish
        self._server = make_server("127.0.0.1", 0, self._serve, threaded=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-endpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _serve(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []

        def capture(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(status_line)
            return start_response(status_line, headers, exc_info)

        with MOTO_LOCK:
            answer = b"".join(self._app(environ, capture))
        if self._record_publish and status and status[0].startswith("200"):
            self._note_publish(body, answer)
        return [answer]

    def _note_publish(self, body: bytes, answer: bytes) -> None:
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        if form.get("Action") != "Publish" or self._record_publish is None:
            return
        found = _MESSAGE_ID.search(answer)
        params = {
            "TopicArn": form.get("TopicArn", ""),
            "Message": form.get("Message", ""),
            "MessageAttributes": _attributes(form),
        }
        self._record_publish("Publish", params, {"MessageId": found.group(1).decode() if found else None})


def _attributes(form: dict[str, str]) -> dict[str, dict[str, str]]:
    """SNS's query-protocol `MessageAttributes.entry.N.*` fields as boto3's MessageAttributes."""
    attributes: dict[str, dict[str, str]] = {}
    n = 1
    while f"MessageAttributes.entry.{n}.Name" in form:
        prefix = f"MessageAttributes.entry.{n}."
        attributes[form[prefix + "Name"]] = {
            "DataType": form.get(prefix + "Value.DataType", "String"),
            "StringValue": form.get(prefix + "Value.StringValue", ""),
        }
        n += 1
    return attributes
