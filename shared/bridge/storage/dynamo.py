"""A shared DynamoDB client and the translation of its failures into the bridge's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from bridge.errors import StorageUnavailable, Throttled

_THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
}


@lru_cache(maxsize=1)
def dynamodb_client() -> Any:
    """One low-level client per container, built on first use (never at import)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
    return boto3.client("dynamodb", config=config)


# Writes around a tenant call: the caller must have its answer within the deadline + 2 s, so these
# give up fast and the result is recorded later instead.
QUICK_CONFIG_ARGS: dict[str, Any] = {
    "connect_timeout": 0.3,
    "read_timeout": 0.5,
    "retries": {"mode": "standard", "max_attempts": 1},
}


def quick_config() -> Any:
    """A botocore Config that fails fast (see QUICK_CONFIG_ARGS)."""
    from botocore.config import Config

    return Config(**QUICK_CONFIG_ARGS)


@lru_cache(maxsize=1)
def quick_dynamodb_client() -> Any:
    """A client for the writes around a tenant call."""
    import boto3

    return boto3.client("dynamodb", config=quick_config())


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ClientError, or ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn throttling into 429 and any other storage failure into 503, before any effect."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if code in _THROTTLING:
            raise Throttled("Storage is busy, retry shortly.", retry_after=1) from exc
        raise StorageUnavailable("Storage is unavailable, retry shortly.", retry_after=2) from exc
    except BotoCoreError as exc:
        raise StorageUnavailable("Storage is unavailable, retry shortly.", retry_after=2) from exc


class Table:
    """A table adapter: its name and a client (the shared one unless a test gives another)."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb_client()
