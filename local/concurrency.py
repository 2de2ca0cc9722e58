"""Handlers written for Lambda's one invocation per container, run on threads of one process by the local run.

Lambda runs each invocation alone in its container; the local run serves requests on threads, and Powertools
keeps per-invocation state where threads share it. Under `make load` about one request in 20,000 was handled
with another request's body and headers or lost its path parameters (an accepted push lost while another was
stored twice, a 401, a 500), and a metrics flush failed (a 502 after the data was stored). So here:
- each concurrent invocation leases its own instance of the handler module (its resolver keeps the route's
  arguments in `app.context`): the instance `load_function` caches whenever it is free, so tests that patch
  it see their patches; otherwise another import of the same file, kept for later as a warm container is;
- the event being handled, which Powertools keeps on the `BaseRouter` class itself (`current_event`,
  `lambda_context`), is kept per thread (an invocation runs on one thread);
- the metric set, shared by every handler through the layer's one `Metrics`, is used under one lock (which
  invocation's EMF line carries a metric matters nothing locally).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

_METRICS_METHODS = ("add_metric", "add_dimension", "add_dimensions", "add_metadata", "clear_metrics", "flush_metrics")
_ROUTER_STATE = ("current_event", "lambda_context")
_router_state = threading.local()
_metrics_lock = threading.RLock()
_install_lock = threading.Lock()
_installed = False
_containers: dict[str, list[ModuleType]] = {}  # by the cached module's name; the cached module first
_busy: set[int] = set()  # id() of the modules an invocation holds
_containers_lock = threading.Lock()


def install() -> None:
    """Patch Powertools once; idempotent."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _router_state_per_thread()
        _metrics_under_one_lock()
        _installed = True


@contextmanager
def lease(first: ModuleType) -> Iterator[ModuleType]:
    """An instance of `first`'s handler module that no other invocation holds, for the duration."""
    module = _take(first)
    try:
        yield module
    finally:
        with _containers_lock:
            _busy.discard(id(module))


def containers(first: ModuleType) -> int:
    """How many instances of `first`'s handler module exist (the most invocations it had at once)."""
    with _containers_lock:
        return len(_containers.get(first.__name__, [first]))


def _take(first: ModuleType) -> ModuleType:
    with _containers_lock:
        modules = _containers.setdefault(first.__name__, [first])
        if modules[0] is not first:  # the cached module was imported again: start over from it
            modules[:] = [first]
        for module in modules:
            if id(module) not in _busy:
                _busy.add(id(module))
                return module
        name = f"{first.__name__}__container{len(modules)}"
        placeholder = ModuleType(name)  # holds the place (and the name) while the import runs unlocked
        modules.append(placeholder)
        _busy.add(id(placeholder))
    try:
        module = _import_again(first, name)
    except BaseException:
        with _containers_lock:
            modules.remove(placeholder)
            _busy.discard(id(placeholder))
        raise
    with _containers_lock:
        modules[modules.index(placeholder)] = module
        _busy.discard(id(placeholder))
        _busy.add(id(module))
    return module


def _import_again(first: ModuleType, name: str) -> ModuleType:
    """`first`'s file imported anew under `name`, as load_function imports it (a cold start)."""
    path = Path(str(first.__file__))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} again")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))  # Lambda's code directory first, for sibling modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(str(path.parent))
    return module


def _router_state_per_thread() -> None:
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    class PerThreadRouterState(type(BaseRouter)):  # type: ignore[misc]
        """Class-level reads and writes (`BaseRouter.current_event = ...`) go through the descriptors."""

        current_event = _PerThread("current_event")
        lambda_context = _PerThread("lambda_context")

    for name in _ROUTER_STATE:
        setattr(BaseRouter, name, _PerThread(name))  # reads and writes through a resolver instance
    BaseRouter.__class__ = PerThreadRouterState  # type: ignore[method-assign]


class _PerThread:
    """A data descriptor whose value belongs to the thread that set it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> object:
        return getattr(_router_state, self.name, None)

    def __set__(self, instance: object, value: object) -> None:
        setattr(_router_state, self.name, value)


def _metrics_under_one_lock() -> None:
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    for name in _METRICS_METHODS:
        setattr(AmazonCloudWatchEMFProvider, name, _locked(getattr(AmazonCloudWatchEMFProvider, name)))


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _metrics_lock:
            return method(*args, **kwargs)

    return locked
