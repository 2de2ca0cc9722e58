"""Phase one of the bench: the real handlers in this process on moto, event by event.

Each function first handles one event (the container's first: clients, secrets, imports); then each case runs
warm, event after event, and the stream relay drains what they stored. Every call the handlers make is tallied
(`bench_probe`) and every answer moto gives them is recorded (`bench_stub`) for the replayed phases.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local import bench_stub
from local.aws import in_memory_aws
from local.bench_events import SECRETS, Events, Handlers, Request, answer_status
from local.bench_probe import Probe, Tally
from local.bench_units import table_shapes
from local.intercept import observing
from local.lambda_runtime import FakeLambdaContext, apply_environment, ensure_layer_on_path
from local.stack import Stack
from local.streams import StreamPump

CASE_EVENTS = 20
CASES = ("push", "notification", "session_notification", "listing", "read", "start")


@dataclass
class Case:
    """One kind of event, handled `events` times warm."""

    handler: list[Tally] = field(default_factory=list)  # the handler's work, per event
    relay: Tally = field(default_factory=Tally)  # the relay's, for all of them
    tenant_calls: int = 0
    sample: Request | None = None  # the last event (its calls are in handler[-1])

    @property
    def events(self) -> int:
        return len(self.handler)

    def mean(self, figure: Callable[[Tally], float]) -> float:
        return statistics.fmean(figure(t) for t in self.handler) if self.handler else float("nan")


@dataclass
class Flows:
    """What phase one measured and what the later phases need."""

    stack: Stack
    events: Events
    handlers: Handlers
    cases: dict[str, Case] = field(default_factory=dict)
    services: dict[str, set[str]] = field(default_factory=dict)  # AWS services each function's first event used
    first_calls: dict[str, int] = field(default_factory=dict)
    relay_event: dict[str, Any] | None = None
    read_id: int = 0
    failures: list[str] = field(default_factory=list)

    def environment(self, function: str) -> dict[str, str]:
        return self.stack.function_environment(function)


class TenantCalls:
    """Counts the calls the tenant client makes (its public methods), for the duration."""

    def __init__(self) -> None:
        self.count = 0

    @contextmanager
    def counting(self) -> Iterator[TenantCalls]:
        from bridge.tenant_client import TenantClient

        originals = {name: getattr(TenantClient, name) for name in ("post_json", "get_json")}

        def counted(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(client: Any, *args: Any, **kwargs: Any) -> Any:
                self.count += 1
                return original(client, *args, **kwargs)

            return call

        for name, original in originals.items():
            setattr(TenantClient, name, counted(original))
        try:
            yield self
        finally:
            for name, original in originals.items():
                setattr(TenantClient, name, original)


def run(tenant_url: str, progress: Callable[[str], None]) -> Flows:
    """Phase one, in a fresh in-memory account whose tenant is `tenant_url`."""
    with in_memory_aws(), bench_stub.recording():
        stack = Stack.create(parameters={"AmpecoBaseUrl": tenant_url}, secrets=SECRETS)
        apply_environment(stack)
        ensure_layer_on_path()
        from bridge import secrets

        secrets.clear_cache()
        flows = Flows(stack, Events(stack), Handlers(stack))
        probe = Probe(table_shapes(stack.template.resources))
        tenant = TenantCalls()
        relay_events: list[dict[str, Any]] = []

        def invoke(function: str, event: dict[str, Any], context: FakeLambdaContext) -> Any:
            relay_events.append(event)
            return flows.handlers.invoke(function, event, context)

        pump = StreamPump(stack, stack.template, invoke)
        with observing(probe), tenant.counting():
            progress("flows: each function's first event (imports, clients, secrets)")
            _first_events(flows, probe, pump, relay_events)
            for name in CASES:
                progress(f"flows: {CASE_EVENTS} warm {name} events, then the relay")
                try:
                    flows.cases[name] = _case(flows, name, probe, pump, tenant)
                except Exception as exc:  # one broken flow must not hide the others' figures
                    flows.failures.append(f"{name}: {type(exc).__name__}: {exc}")
        return flows


def _handle(flows: Flows, request: Request) -> dict[str, Any]:
    result = flows.handlers(request)
    status = answer_status(result)
    if not 200 <= status < 300:
        body = result.get("body") if isinstance(result, dict) else result
        raise RuntimeError(f"{request.function} answered {status}: {str(body)[:200]}")
    return result if isinstance(result, dict) else {}


def _first_events(flows: Flows, probe: Probe, pump: StreamPump, relay_events: list[dict[str, Any]]) -> None:
    events = flows.events
    push = events.push()
    probe.reset()
    pushed = _handle(flows, push)
    tallies = {push.function: probe.reset()}
    flows.read_id = int(json.loads(pushed["body"])["ids"][0])
    requests = [events.notification(), events.session_notification(1), events.listing(), events.read(flows.read_id)]
    requests += [events.start()]
    requests += [events.scheduled(f) for f in flows.stack.template.functions() if f not in _api_functions(flows)]
    for request in requests:
        probe.reset()
        try:
            _handle(flows, request)
        except Exception as exc:
            flows.failures.append(f"first event of {request.function}: {exc}")
        tallies.setdefault(request.function, probe.reset())
    probe.reset()
    pump.drain(timeout=60)
    relay = probe.reset()
    for function in flows.stack.template.functions():
        tally = tallies.get(function) or (relay if relay_events else Tally())
        flows.services[function] = {service for service, _, _ in tally.calls} | {"dynamodb"}
        flows.first_calls[function] = tally.aws_calls
    flows.relay_event = relay_events[0] if relay_events else None


def _api_functions(flows: Flows) -> set[str]:
    streams = {s.function for s in flows.stack.template.stream_sources()}
    return {r.function for r in flows.stack.template.routes()} | streams


def _case(flows: Flows, name: str, probe: Probe, pump: StreamPump, tenant: TenantCalls) -> Case:
    case = Case()
    events = flows.events
    tenant_before = tenant.count
    for n in range(CASE_EVENTS):
        if name == "push":
            request = events.push()
        elif name == "notification":
            request = events.notification()
        elif name == "session_notification":
            session = 1000 + n // 2  # a new session, then an update of it (status, energy, a later time)
            request = events.session_notification(session, "finished" if n % 2 else "active", minutes=30 * (n % 2))
        elif name == "listing":
            request = events.listing()
        elif name == "read":
            request = events.read(flows.read_id)
        else:
            request = events.start()
        probe.reset()
        _handle(flows, request)
        case.handler.append(probe.reset())
        case.sample = request
    pump.drain(timeout=60)
    case.relay = probe.reset()
    case.tenant_calls = tenant.count - tenant_before
    return case


def operations(case: Case) -> Counter[str]:
    """The handler's calls over the case, by service.operation."""
    total: Counter[str] = Counter()
    for tally in case.handler:
        total.update(tally.operations)
    return total
