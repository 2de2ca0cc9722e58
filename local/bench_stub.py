"""The bench's AWS stub in this process: record what moto answers the handlers, then answer from the records.

Recording keeps, per `bench_child.answer_key`, the last successful raw answer (status, headers, body) to a call a
handler made on moto. Replaying answers every call in botocore's `before-send` from those records, so requests
are built and signed and answers parsed as with AWS, and nothing is sent: the warm CPU figures and every cold
start (`bench_child`, which gets the records as a file) run on it. Handlers go through botocore's builtin
handler list, so `install()` must run before any botocore session exists.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local import intercept
from local.bench_child import Answers, Replay, answer_key

_KEY = "local.bench_stub.key"
_lock = threading.Lock()
_state: dict[str, Any] = {"mode": "off", "replay": None}
_answers: Answers = {}
_installed = [False]


def install() -> None:
    """Put the recorder and the replay into every botocore session from now on (idempotent)."""
    with _lock:
        if _installed[0]:
            return
        from botocore import handlers

        entries = [
            ("before-parameter-build", _before_parameter_build),
            ("before-send", _before_send),
            ("after-call", _after_call),
        ]
        handlers.BUILTIN_HANDLERS.extend(entries)
        boto3 = sys.modules.get("boto3")
        default = getattr(boto3, "DEFAULT_SESSION", None)
        if default is not None:
            for event, handler in entries:
                default.events.register(event, handler, unique_id=f"bench-stub:{event}")
        _installed[0] = True


@contextmanager
def recording() -> Iterator[Answers]:
    """Keep the answers moto gives the handlers (calls made outside a handler are not theirs) while inside."""
    _state["mode"] = "record"
    try:
        yield _answers
    finally:
        _state["mode"] = "off"


@contextmanager
def replaying() -> Iterator[Replay]:
    """Answer every AWS call from the recorded answers while inside (moto must not be active)."""
    replay = Replay(dict(_answers))
    _state["mode"], _state["replay"] = "replay", replay
    try:
        yield replay
    finally:
        _state["mode"], _state["replay"] = "off", None


def save(path: Path) -> None:
    """The recorded answers, as `bench_child` reads them."""
    path.write_text(json.dumps(_answers))


def _before_parameter_build(
    params: dict[str, Any], model: Any, context: dict[str, Any] | None = None, **_: Any
) -> None:
    mode = _state["mode"]
    if mode == "record" and context is not None and intercept.current_function.get() is not None:
        context[_KEY] = answer_key(model.service_model.service_name, model.name, params)
    elif mode == "replay":
        _state["replay"].before_parameter_build(params, model)


def _before_send(request: Any, **kwargs: Any) -> Any:
    if _state["mode"] != "replay":
        return None
    return _state["replay"].before_send(request, **kwargs)


def _after_call(http_response: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
    key = context.get(_KEY) if context is not None else None
    if key is None or _state["mode"] != "record" or http_response.status_code >= 300:
        return
    headers = {str(name).lower(): str(value) for name, value in http_response.headers.items()}
    _answers[key] = [http_response.status_code, headers, base64.b64encode(http_response.content).decode()]
