"""A shared DynamoDB client and the translation of its failures into the bridge's errors."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bridge.errors import StorageUnavailable, Throttled

_THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
}


def dynamodb_client() -> Any:
    """The container's DynamoDB client (tables wired without one use it)."""
    from bridge import aws

    return aws.client("dynamodb")


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
        # A 5xx may come after the write was applied; a 4xx means DynamoDB refused it.
        uncertain = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500) >= 500
        raise StorageUnavailable("Storage is unavailable, retry shortly.", retry_after=2, uncertain=uncertain) from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(
            "Storage is unavailable, retry shortly.", retry_after=2, uncertain=not _never_sent(exc)
        ) from exc


def query_items(client: Any, request: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Up to `limit` items of one Query, following LastEvaluatedKey (a Query page stops at 1 MB)."""
    request = dict(request)
    items: list[dict[str, Any]] = []
    with storage_errors():
        while len(items) < limit:
            page = client.query(**request, Limit=limit - len(items))
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items


def _never_sent(exc: Exception) -> bool:
    """Failures that happen before a request reaches DynamoDB: nothing can have been written."""
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ParamValidationError

    return isinstance(exc, ConnectTimeoutError | EndpointConnectionError | ParamValidationError)


class Table:
    """A table adapter: its name and a client (the shared one unless a test gives another)."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb_client()


# ---------------------------------------------------------------------- transactions
CONFLICT_RETRIES = 3
CONFLICT_BACKOFF_SECONDS = 0.02  # the first pause's ceiling; it doubles per retry: at most 0.14 s of pauses in all


class TransactionCancelled(Exception):
    """A transaction refused because a condition failed; `reasons` follow the order of its items."""

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("transaction cancelled: " + ", ".join(str(r.get("Code")) for r in reasons))
        self.reasons = reasons

    def failed_conditions(self) -> dict[int, dict[str, Any]]:
        """The reasons of the items whose condition failed, by item position."""
        return {i: r for i, r in enumerate(self.reasons) if r.get("Code") == "ConditionalCheckFailed"}


def transact_write(
    client: Any,
    items: list[dict[str, Any]],
    *,
    token: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """TransactWriteItems, retried briefly while it only collided with another transaction on its items.

    `token` (ClientRequestToken) makes a repeat of a transaction that landed a no-op for ten minutes.

    Raises TransactionCancelled when a condition failed (also on a retry: the other writer may have won),
    StorageUnavailable when the collisions outlast the retries or the cancellation has another cause.
    Other client errors pass through for `storage_errors` to translate.
    """
    from botocore.exceptions import ClientError

    for attempt in range(CONFLICT_RETRIES + 1):
        try:
            client.transact_write_items(TransactItems=items, **({"ClientRequestToken": token} if token else {}))
            return
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons") or []
            codes = {reason.get("Code") for reason in reasons}
            if "ConditionalCheckFailed" in codes:
                raise TransactionCancelled(reasons) from exc
            if "TransactionConflict" not in codes or attempt == CONFLICT_RETRIES:
                raise StorageUnavailable("Storage is busy, retry shortly.", retry_after=1) from exc
        # Full jitter, so colliding writers do not collide again in step.
        sleep(random.uniform(0, CONFLICT_BACKOFF_SECONDS * 2**attempt))
