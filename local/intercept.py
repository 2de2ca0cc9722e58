"""One botocore interception layer for the local run and the tests: every AWS call, seen by observers.

Three handlers join botocore's built-in handler list, as moto's stubber does, so every botocore session
created afterwards carries them, whoever builds it (the handlers' cached clients, Powertools' own sessions,
the harness); `boto3.DEFAULT_SESSION`, when it already exists, gets them too. Clients built before
`install()` from a session that predates it are not seen: install before building any.

- `before-parameter-build`: keeps a copy of the caller's API params in the request context;
- `before-call`: builds a `Call` and runs every observer's `before(call)`; an observer fails the call by
  raising, or answers it (without reaching AWS or moto) by returning `(http_response, parsed)`, which
  botocore turns into the client's modeled exception when the status is 300 or more;
- `after-call`: runs every observer's `after(call, http_status, parsed)`; raising there loses the answer
  of a call that already took effect.

An observer sees calls from every thread. `Call.function` is the Lambda function the call is made for
(set by the local Lambda runtime around each handler), None for the harness's or the local run's own calls.
"""

from __future__ import annotations

import copy
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

Answer = tuple[Any, dict[str, Any]]
"""What botocore's before-call accepts instead of sending: (botocore AWSResponse, parsed response)."""

current_function: ContextVar[str | None] = ContextVar("current_function", default=None)

_PARAMS_KEY = "local.intercept.params"
_CALL_KEY = "local.intercept.call"


@dataclass(eq=False)
class Call:
    """One AWS API call as observers see it."""

    service: str  # botocore's service name, as given to boto3.client: dynamodb, dynamodbstreams, sns, ...
    operation: str  # PutItem, Publish, ...
    params: Mapping[str, Any]  # the caller's API params (a copy)
    function: str | None  # the Lambda function's logical id, None outside any handler
    model: Any = field(repr=False)  # botocore's OperationModel
    url: str = ""
    sent_at: float = 0.0  # time.perf_counter() when the call left the observers for AWS
    settled: bool = False  # an observer already failed or answered it: later faults leave it alone


class Observer:
    """Sees every call; override either hook."""

    def before(self, call: Call) -> Answer | None:
        """Runs before the call is sent: raise to fail it, return an Answer to answer it instead of AWS."""

    def after(self, call: Call, http_status: int, parsed: dict[str, Any]) -> None:
        """Runs once the answer is parsed: raise to lose it (the call took effect)."""


_observers: tuple[Observer, ...] = ()
_observers_lock = threading.Lock()
_install_lock = threading.Lock()
_installed = False


def add_observer(observer: Observer) -> None:
    global _observers
    install()  # an observer without the hooks would silently see nothing
    with _observers_lock:
        _observers = (*_observers, observer)


def remove_observer(observer: Observer) -> None:
    """Idempotent."""
    global _observers
    with _observers_lock:
        _observers = tuple(o for o in _observers if o is not observer)


ObserverT = TypeVar("ObserverT", bound=Observer)


@contextmanager
def observing(observer: ObserverT) -> Iterator[ObserverT]:
    """The observer sees every call made while the block runs, from any thread."""
    add_observer(observer)
    try:
        yield observer
    finally:
        remove_observer(observer)


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """Calls made in this block (this thread and context) are attributed to `function`."""
    token = current_function.set(function)
    try:
        yield
    finally:
        current_function.reset(token)


# ---------------------------------------------------------------------- botocore handlers
def _keep_params(params: dict[str, Any], context: dict[str, Any] | None = None, **_: Any) -> None:
    if context is not None and _observers:
        # A deep copy: later handlers (idempotency tokens, boto3's resource layer) rewrite params in place.
        context[_PARAMS_KEY] = copy.deepcopy(params)


def _before_call(model: Any, params: dict[str, Any], context: dict[str, Any] | None = None, **_: Any) -> Answer | None:
    observers = _observers
    if context is None or not observers:
        return None
    call = Call(
        service=model.service_model.service_name,
        operation=model.name,
        params=context.pop(_PARAMS_KEY, {}),
        function=current_function.get(),
        model=model,
        url=str(params.get("url") or ""),
    )
    context[_CALL_KEY] = call
    answer: Answer | None = None
    failure: Exception | None = None
    # Every observer sees the call, even one a fault already failed: counters and recorders stay complete.
    for observer in observers:
        try:
            result = observer.before(call)
        except Exception as exc:
            failure = failure or exc
            call.settled = True
            continue
        if result is not None and answer is None and failure is None:
            answer = result
            call.settled = True
    if failure is not None:
        raise failure
    call.sent_at = time.perf_counter()
    return answer


def _after_call(http_response: Any, parsed: dict[str, Any], context: dict[str, Any] | None = None, **_: Any) -> None:
    call = context.get(_CALL_KEY) if context is not None else None
    if call is None:
        return
    failure: Exception | None = None
    for observer in _observers:
        try:
            observer.after(call, int(http_response.status_code), parsed)
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise failure


_HANDLERS = (
    ("before-parameter-build.*.*", _keep_params),
    ("before-call.*.*", _before_call),
    ("after-call.*.*", _after_call),
)


def install() -> None:
    """Put the handlers into every botocore session from now on, and into boto3's default one (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from botocore import handlers

        handlers.BUILTIN_HANDLERS.extend(_HANDLERS)
        boto3 = sys.modules.get("boto3")  # never imported here: only a session that already exists matters
        default = getattr(boto3, "DEFAULT_SESSION", None)
        if default is not None:
            for event, handler in _HANDLERS:
                default.events.register(event, handler, unique_id=f"local-intercept:{event}")
        _installed = True


# ---------------------------------------------------------------------- a ready-made observer
class OperationCounter(Observer):
    """Counts the operations of one service into a Counter, optionally only calls made for a function."""

    def __init__(self, service: str, counts: Counter[str] | None = None, *, functions_only: bool = False) -> None:
        self.service = service
        self.counts: Counter[str] = Counter() if counts is None else counts
        self.functions_only = functions_only
        self._lock = threading.Lock()

    def before(self, call: Call) -> Answer | None:
        if call.service == self.service and not (self.functions_only and call.function is None):
            with self._lock:
                self.counts[call.operation] += 1
        return None
