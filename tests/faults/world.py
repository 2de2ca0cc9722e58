"""One case's view of the shared bridge, and what Lambda does around the handlers: SQS redelivery, the
sweep's schedule, stream retries, and an operator's redrive."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3

from bridge.publisher import SnsPublisher
from bridge.redrive import redrive
from bridge.storage.undelivered import UndeliveredTable
from local.aws import ACCOUNT_ID, REGION
from local.event_sources import SqsPump, scheduled_event
from local.faults import Fault, fault
from local.intercept import observing
from local.lambda_runtime import handler_invoker, load_function, make_context
from local.tenant_sim import TenantSimulator
from tests.faults.calls import CallRecorder, CallSite, aimed_at
from tests.harness import Bridge

SQS_RECEIVES = 5  # the completions queue's maxReceiveCount: then the message goes to its dead-letter queue
SWEEP_LATER = timedelta(hours=1)
RELAY_PASSES = 8  # stream retries are unlimited; a fault that fires n times needs n + 1 passes
_charge_points = itertools.count(7_000_001)  # one charge point per case: cases share a worker's stack


@dataclass(frozen=True)
class Injection:
    """The fault of a case: its kind at one call, `times` in a row."""

    site: CallSite
    kind: str
    times: int = 1


@dataclass
class Stage:
    """A worker's bridge and the Lambda machinery around it, shared by the cases it runs."""

    bridge: Bridge
    tenant: TenantSimulator
    sqs_pump: SqsPump
    logical: dict[str, str]  # physical name, URL or ARN -> logical id
    dynamodb: Any  # the harness's own clients, built once: a client costs more than a call
    sqs: Any
    sns: Any

    @classmethod
    def build(cls, bridge: Bridge, tenant: TenantSimulator) -> Stage:
        stack = bridge.stack
        logical = {physical: name for name, physical in stack.refs.items()}
        pump = SqsPump(stack, handler_invoker(stack.template), visibility_timeout=0)
        clients = (boto3.client(service, region_name=REGION) for service in ("dynamodb", "sqs", "sns"))
        return cls(bridge, tenant, pump, logical, *clients)


@dataclass
class World:
    """A case: its own charge point, idTag and keys on the shared stage, and its fault in the subject step."""

    stage: Stage
    injection: Injection | None = None
    charge_point: int = field(default_factory=lambda: next(_charge_points))
    tag: str = field(init=False)  # the idTag of the case's starts
    recorder: CallRecorder = field(init=False)
    fault: Fault | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.tag = f"FAULT-{self.charge_point}"  # the tenant starts a session for any idTag not `SIM:...`
        self.recorder = CallRecorder(self.stage.logical)

    @property
    def bridge(self) -> Bridge:
        return self.stage.bridge

    @contextmanager
    def subject(self) -> Iterator[None]:
        """The step under test: its calls are recorded and the case's fault is armed."""
        with ExitStack() as stack:
            stack.enter_context(observing(self.recorder))
            if self.injection is not None:
                self.fault = stack.enter_context(self.precondition(self.injection))
            yield

    @contextmanager
    def precondition(self, injection: Injection) -> Iterator[Fault]:
        """A fault aimed at one call of one function (the subject's, or one that sets the stage)."""
        site = injection.site
        when = aimed_at(site, self.stage.logical)
        with fault(site.service, site.operation, when, kind=injection.kind, times=injection.times) as armed:
            yield armed

    # ------------------------------------------------------------------ Lambda around the handlers
    def deliver_deferred(self, receives: int = SQS_RECEIVES) -> list[str]:
        """Lambda's SQS poller on the completions queue: a failed message comes back, up to maxReceiveCount."""
        tries: list[str] = []
        for _ in range(receives):
            received, deleted = self.stage.sqs_pump.poll_once()
            if not received:
                break
            tries.append("ok" if deleted == received else "retry")
        return tries

    def sweep(self, ticks: int = 1) -> list[str]:
        """The finaliser's schedule, with the clock an hour on; a failed run is simply followed by the next."""
        template = self.bridge.stack.template
        module: Any = load_function(template, "FinaliserFunction")
        deps = module.deps
        module.deps = dataclasses.replace(deps, clock=lambda: deps.clock() + SWEEP_LATER)
        tries: list[str] = []
        try:
            for _ in range(ticks):
                event = scheduled_event(f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/sweep")
                context = make_context(template, "FinaliserFunction")
                try:
                    result = handler_invoker(template)("FinaliserFunction", event, context)
                except Exception:
                    tries.append("error")
                    continue
                tries.append(f"swept {result['finalised']}")
        finally:
            module.deps = deps
        return tries

    def relay(self) -> list[str]:
        """The stream event source: a failed record is retried (no retry limit) until the relay accepts it."""
        tries: list[str] = []
        pump = self.bridge.pump
        for _ in range(RELAY_PASSES):
            fetched, accepted = pump.poll_once()  # one pass reads every record written so far
            pending = pump.pending()
            if fetched or accepted or pending:
                tries.append("retry" if pending else "ok")
            if not pending:
                break
        return tries

    @contextmanager
    def impatient_relay(self) -> Iterator[None]:
        """Every change is past RelayGiveUpSeconds: a failed publish is kept for redrive at once."""
        relay: Any = load_function(self.bridge.stack.template, "RelayFunction")
        patience = relay.give_up_after
        relay.give_up_after = timedelta(0)
        try:
            yield
        finally:
            relay.give_up_after = patience

    def redrive(self) -> int:
        """An operator's `redrive` of whatever the relay kept."""
        refs = self.bridge.stack.refs
        topics = {"security-events": refs["SecurityEventsTopic"], "start-results": refs["StartResultsTopic"]}
        kept = UndeliveredTable(refs["UndeliveredTable"], client=self.stage.dynamodb)
        return redrive(kept, SnsPublisher(topics, self.stage.sns), limit=100).published

    def queue_depth(self, queue: str) -> int:
        """Messages in a queue, visible or in flight."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        url = self.bridge.stack.refs[queue]
        found = self.stage.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(found[name]) for name in names)

    def aftermath(self) -> dict[str, Any]:
        """Once the callers are done: SQS redelivery, the sweep an hour on, the relay, and a redrive."""
        return {
            "finaliser": self.deliver_deferred(),
            "sweep": self.sweep(),
            "relay": self.relay(),
            "redriven": self.redrive(),
        }
