"""AWS clients: one botocore session per container, clients built on first use (never at import)."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

# Writes around a tenant call: the caller must have its answer within the deadline + 2 s, so these give up
# fast and the result is recorded later instead.
QUICK = {"connect_timeout": 0.3, "read_timeout": 0.5, "retries": {"mode": "standard", "max_attempts": 1}}
STANDARD = {"connect_timeout": 2, "read_timeout": 5, "retries": {"mode": "standard", "max_attempts": 3}}

_lock = threading.Lock()


@cache
def _session() -> Any:
    import boto3

    return boto3.session.Session()


def client(service: str, *, quick: bool = False) -> Any:
    """A client of the container's one session; `quick` ones fail fast (see QUICK)."""
    with _lock:  # boto3 sessions are not thread-safe while they build clients
        return _client(service, quick)


@cache
def _client(service: str, quick: bool) -> Any:
    from botocore.config import Config

    return _session().client(service, config=Config(**(QUICK if quick else STANDARD)))


class LazyClient:
    """Stands in for a client until its first use, so wiring at import time does no I/O."""

    def __init__(self, service: str, *, quick: bool = False) -> None:
        self._service = service
        self._quick = quick

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service, quick=self._quick), name)


def reset() -> None:
    """Forget clients and the session (tests that start a new in-memory AWS)."""
    _client.cache_clear()
    _session.cache_clear()
