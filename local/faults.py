"""AWS faults for the tests and the local run: a matching call fails the way AWS or the network fails it.

A fault fires per API call as the caller sees it, after botocore's own retries would have run: an error is
answered in before-call, so botocore's retry loop never sees it. Kinds:

- throttle: ProvisionedThroughputExceededException (dynamodb), Throttling (query-protocol services such as
  SNS) or ThrottlingException, HTTP 400;
- internal: InternalServerError, HTTP 500;
- timeout: botocore's ReadTimeoutError before the call is sent (nothing happened);
- conditional: ConditionalCheckFailedException; for a transaction, TransactionCanceledException with
  ConditionalCheckFailed for every item;
- conflict: TransactionConflictException; for a transaction, TransactionCanceledException with
  TransactionConflict for every item;
- answer_lost: the call is sent and succeeds, then ReadTimeoutError reaches the caller instead of the answer.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from local.intercept import Answer, Call, Observer, observing

KINDS = ("throttle", "internal", "timeout", "conditional", "conflict", "answer_lost")
_TRANSACTIONS = {"TransactWriteItems", "TransactGetItems"}
_QUERY_PROTOCOLS = {"query", "ec2"}

Predicate = Callable[[Mapping[str, Any]], bool]


class Fault(Observer):
    """Fails matching calls (service, operation, and `when` on the caller's API params), the first `times`."""

    def __init__(
        self,
        service: str,
        operation: str,
        when: Predicate | None = None,
        *,
        kind: str = "internal",
        times: int | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(KINDS)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every matching call)")
        self.id = uuid.uuid4().hex[:12]
        self.service = service
        self.operation = operation
        self.when = when
        self.kind = kind
        self.times = times
        self._fired = 0
        self._lock = threading.Lock()

    @property
    def fired(self) -> int:
        """How many calls this fault failed."""
        with self._lock:
            return self._fired

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "service": self.service,
            "operation": self.operation,
            "kind": self.kind,
            "times": self.times,
            "fired": self.fired,
        }

    def before(self, call: Call) -> Answer | None:
        if self.kind == "answer_lost" or call.settled or not self._matches(call) or not self._take():
            return None
        if self.kind == "timeout":
            raise _read_timeout(call)
        return error_answer(call, self.kind)

    def after(self, call: Call, http_status: int, _parsed: dict[str, Any]) -> None:
        # Only a success can be lost: a call AWS refused took no effect to lose.
        if self.kind != "answer_lost" or http_status >= 300 or call.settled or not self._matches(call):
            return
        if self._take():
            call.settled = True
            raise _read_timeout(call)

    def _matches(self, call: Call) -> bool:
        if (call.service, call.operation) != (self.service, self.operation):
            return False
        return self.when is None or bool(self.when(call.params))

    def _take(self) -> bool:
        """Counts one firing unless `times` are used up (atomic: concurrent calls never overshoot)."""
        with self._lock:
            if self.times is not None and self._fired >= self.times:
                return False
            self._fired += 1
            return True


@contextmanager
def fault(
    service: str, operation: str, when: Predicate | None = None, *, kind: str = "internal", times: int | None = None
) -> Iterator[Fault]:
    """Matching calls by any client in this process fail while the block runs; the handle counts them."""
    with observing(Fault(service, operation, when, kind=kind, times=times)) as observer:
        yield observer


# ---------------------------------------------------------------------- AWS-shaped errors
def _read_timeout(call: Call) -> Exception:
    from botocore.exceptions import ReadTimeoutError

    timeout: Exception = ReadTimeoutError(endpoint_url=call.url or call.service, error=TimeoutError("injected fault"))
    return timeout


def _error_for(call: Call, kind: str) -> tuple[int, str, str, list[dict[str, str]] | None]:
    """(HTTP status, error code, message, cancellation reasons) as AWS answers this kind of failure."""
    if kind == "throttle":
        if call.service == "dynamodb":
            message = "Rate of requests exceeds the allowed throughput."
            return 400, "ProvisionedThroughputExceededException", message, None
        query = call.model.service_model.protocol in _QUERY_PROTOCOLS
        return 400, "Throttling" if query else "ThrottlingException", "Rate exceeded", None
    if kind == "internal":
        return 500, "InternalServerError", "Internal server error", None
    transaction = call.operation in _TRANSACTIONS
    if kind == "conditional":
        if transaction:
            return _cancelled(call, "ConditionalCheckFailed", "The conditional request failed")
        return 400, "ConditionalCheckFailedException", "The conditional request failed", None
    if kind == "conflict":
        if transaction:
            return _cancelled(call, "TransactionConflict", "Transaction is ongoing for the item")
        return 400, "TransactionConflictException", "Transaction is ongoing for the item", None
    raise ValueError(f"{kind} is not answered with an error response")


def _cancelled(call: Call, reason: str, reason_message: str) -> tuple[int, str, str, list[dict[str, str]]]:
    items = len(call.params.get("TransactItems") or []) or 1
    reasons = [{"Code": reason, "Message": reason_message} for _ in range(items)]
    message = (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        f"[{', '.join(r['Code'] for r in reasons)}]"
    )
    return 400, "TransactionCanceledException", message, reasons


class _Body:
    """The raw stream AWSResponse reads its content from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def error_answer(call: Call, kind: str) -> Answer:
    """An HTTP answer and the response botocore would parse from it, for before-call to hand back."""
    from botocore.awsrequest import AWSResponse

    status, code, message, reasons = _error_for(call, kind)
    request_id = str(uuid.uuid4())
    body: dict[str, Any] = {"__type": code, "message": message}
    if reasons is not None:
        body["CancellationReasons"] = reasons
    raw = json.dumps(body).encode()
    headers = {"x-amzn-RequestId": request_id, "Content-Type": "application/x-amz-json-1.0"}
    headers["Content-Length"] = str(len(raw))
    parsed: dict[str, Any] = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "RequestId": request_id,
            "HTTPStatusCode": status,
            "HTTPHeaders": {name.lower(): value for name, value in headers.items()},
            "RetryAttempts": 0,
        },
    }
    # The error shape's modeled members, as botocore's parser adds them (DynamoDB's `message`, `Message`).
    shape = call.model.service_model.shape_for_error_code(code)
    for member in shape.members if shape is not None else ():
        if member.lower() == "message":
            parsed[member] = message
    if reasons is not None:
        parsed["CancellationReasons"] = reasons
    return AWSResponse(call.url, status, headers, _Body(raw)), parsed
