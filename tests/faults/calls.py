"""The AWS calls of a flow, as the handlers make them: recorded, named, and aimed at by a fault."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local.faults import Predicate
from local.intercept import Answer, Call, Observer, current_function

READS = ("throttle", "internal", "timeout")
WRITES = (*READS, "answer_lost")  # a write can land and still lose its answer


@dataclass(frozen=True)
class CallSite:
    """One call of a flow: the function making it, the operation, and the resources it names (logical ids)."""

    function: str
    service: str
    operation: str
    resource: str  # `Table`, `Table.index`, or `TableA+TableB` for a transaction

    def __str__(self) -> str:
        return f"{self.operation} {self.resource}"


@dataclass(frozen=True)
class Target:
    """A call a fault can be injected at, and the kinds of fault that can really happen there."""

    site: CallSite
    kinds: tuple[str, ...]


def target(function: str, service: str, operation: str, resource: str, *, kinds: tuple[str, ...]) -> Target:
    """A fault target (a shorthand for the case table)."""
    return Target(CallSite(function, service, operation, resource), kinds)


def resource_of(params: Mapping[str, Any], logical: Mapping[str, str]) -> str:
    """The logical ids a call names: its table (and index), its transaction's tables, its queue, topic or secret."""
    if "TransactItems" in params:
        tables = [next(iter(item.values()))["TableName"] for item in params["TransactItems"]]
        return "+".join(sorted({logical.get(t, t) for t in tables}))
    for key in ("TableName", "QueueUrl", "TopicArn", "SecretId"):
        if key in params:
            name = logical.get(str(params[key]), str(params[key]))
            return f"{name}.{params['IndexName']}" if "IndexName" in params else name
    return ""


def aimed_at(site: CallSite, logical: Mapping[str, str]) -> Predicate:
    """A fault's `when`: only this function's call on this resource (the fault checks service and operation)."""
    return lambda params: current_function.get() == site.function and resource_of(params, logical) == site.resource


class CallRecorder(Observer):
    """Every call a Lambda function makes while recording (calls of the harness itself are left out)."""

    def __init__(self, logical: Mapping[str, str]) -> None:
        self._logical = logical
        self._lock = threading.Lock()
        self.sites: list[CallSite] = []

    def before(self, call: Call) -> Answer | None:
        if call.function is not None:
            site = CallSite(call.function, call.service, call.operation, resource_of(call.params, self._logical))
            with self._lock:
                self.sites.append(site)
        return None
