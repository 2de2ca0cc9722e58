"""In-memory AWS for the local run and the tests: moto, made safe for concurrent callers."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local import intercept, moto_costs

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

# Every boto3 call that reaches moto takes this lock: moto has no per-item locking, and without it two
# conditional puts on one key can both succeed, which DynamoDB never allows.
MOTO_LOCK = threading.RLock()
_patched = False


def set_fake_environment() -> None:
    """Point boto3 at a fake account and install the call interception before any client is built."""
    os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ["AWS_REGION"] = REGION
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ["AWS_SESSION_TOKEN"] = "testing"
    os.environ.pop("AWS_PROFILE", None)
    # Streams calls otherwise go to an account-specific host that moto does not answer.
    os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
    os.environ["MOTO_ACCOUNT_ID"] = ACCOUNT_ID
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AmpecoBridge")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ampeco-bridge")
    # Observers (faults, counters, recorders) must reach every session, so the hooks go in first.
    intercept.install()


def serialise_moto() -> None:
    """Make every call into moto hold MOTO_LOCK (idempotent)."""
    global _patched
    if _patched:
        return
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__

    def locked(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        with MOTO_LOCK:
            return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = locked  # type: ignore[method-assign]
    _patched = True


@contextmanager
def in_memory_aws() -> Iterator[None]:
    """Fake credentials, a serialised moto, and mock_aws for the duration."""
    set_fake_environment()
    serialise_moto()
    moto_costs.install()  # a transaction or a send costs what it touches, not the whole table or queue
    from moto import mock_aws

    with mock_aws():
        yield
