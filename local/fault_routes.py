"""`/_local/faults` in the local run: inject AWS faults into the running bridge over HTTP.

POST `{"service", "operation", "kind"?, "times"?}` adds one (201 with its id), GET lists the active ones with
how often each fired, DELETE clears them all.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from typing import Any, Protocol

from local.faults import KINDS, Fault
from local.intercept import add_observer, remove_observer

FAULTS_PATH = "/_local/faults"
_FIELDS = {"service", "operation", "kind", "times"}

LocalResponse = tuple[int, Any]


class _LocalRoutes(Protocol):
    def add_local_route(self, method: str, path: str, helper: Any) -> None: ...


class FaultBoard:
    """The faults the local run's operator set; each is an observer until cleared."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()

    def add(self, service: str, operation: str, kind: str = "internal", times: int | None = None) -> Fault:
        added = Fault(service, operation, kind=kind, times=times)
        with self._lock:
            self._faults[added.id] = added
            add_observer(added)
        return added

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults.values())

    def clear(self) -> int:
        with self._lock:
            cleared = list(self._faults.values())
            self._faults.clear()
            for each in cleared:
                remove_observer(each)
        return len(cleared)

    # ------------------------------------------------------------------ HTTP helpers
    def post(self, body: bytes) -> LocalResponse:
        try:
            document = json.loads(body or b"null")
        except ValueError:
            return 400, {"message": "The body is not JSON."}
        problems = _problems(document)
        if problems:
            return 422, {"message": "The fault is not valid.", "errors": problems}
        kind, times = document.get("kind", "internal"), document.get("times")
        added = self.add(document["service"], document["operation"], kind, times)
        return 201, added.describe()

    def get(self, _body: bytes) -> LocalResponse:
        return 200, [each.describe() for each in self.active()]

    def delete(self, _body: bytes) -> LocalResponse:
        return 200, {"cleared": self.clear()}


def serve_faults(server: _LocalRoutes) -> FaultBoard:
    """Adds POST, GET and DELETE /_local/faults to a local server."""
    board = FaultBoard()
    server.add_local_route("POST", FAULTS_PATH, board.post)
    server.add_local_route("GET", FAULTS_PATH, board.get)
    server.add_local_route("DELETE", FAULTS_PATH, board.delete)
    return board


def _problems(document: Any) -> dict[str, list[str]]:
    """Field -> what is wrong; a service or operation botocore does not know is refused (a typo fires never)."""
    if not isinstance(document, dict):
        return {"body": ["Must be a JSON object."]}
    problems: dict[str, list[str]] = {}
    for unknown in sorted(set(document) - _FIELDS):
        problems[unknown] = [f"Unknown field; the fields are {', '.join(sorted(_FIELDS))}."]
    for name in ("service", "operation"):
        if not isinstance(document.get(name), str) or not document[name]:
            problems[name] = ["Required, a non-empty string."]
    if document.get("kind", "internal") not in KINDS:
        problems["kind"] = [f"One of {', '.join(KINDS)}."]
    times = document.get("times")
    if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
        problems["times"] = ["A positive integer, or null for every matching call."]
    if not problems:
        problems.update(_unknown_operation(document["service"], document["operation"]))
    return problems


@cache
def _service_models() -> Any:
    import botocore.session

    return botocore.session.get_session()


def _unknown_operation(service: str, operation: str) -> dict[str, list[str]]:
    from botocore.exceptions import UnknownServiceError
    from botocore.model import OperationNotFoundError

    try:
        _service_models().get_service_model(service).operation_model(operation)
    except UnknownServiceError:
        return {"service": ["Not an AWS service name botocore knows (e.g. dynamodb, sns, sqs)."]}
    except OperationNotFoundError:
        return {"operation": [f"Not an operation of {service} (e.g. PutItem, Publish)."]}
    return {}
