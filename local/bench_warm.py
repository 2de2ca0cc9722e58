"""Phase two: warm CPU per event, each handler paired with a baseline doing only the unavoidable work.

Both run in this process on the replayed AWS answers (`bench_stub`: built, signed and parsed as with AWS, nothing
sent; the tenant is the simulator in its own process, so its CPU is not ours). Per event, alternately first:
the real handler, then the baseline, each timed with the process's CPU clock. The baseline checks the signature
(Standard Webhooks or AMPECO's HMAC), parses the body as JSON, makes the very calls the handler made for such an
event in phase one (same operations, same parameters, a plain boto3 client on the same stub) and, for a start,
the same tenant call. Each run's ratio is its medians' ratio; the figure is the median of the runs' ratios.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from local import bench_stub
from local.aws import REGION
from local.bench_events import AMPECO_TOKEN, Request, answer_status, charge_point_key
from local.bench_flows import Flows
from local.bench_report import median, paired_ratio

RUNS = 5
EVENTS_PER_RUN = 30
Call = tuple[str, str, dict[str, Any]]


@dataclass
class Warm:
    """CPU seconds per event, per run: the handler's and its baseline's."""

    runs: list[tuple[list[float], list[float]]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return paired_ratio(self.runs)

    @property
    def handler_ms(self) -> float:
        return median([v for figure, _ in self.runs for v in figure]) * 1000

    @property
    def baseline_ms(self) -> float:
        return median([v for _, baseline in self.runs for v in baseline]) * 1000


class Baseline:
    """The unavoidable work of an event: authenticate the raw body, parse it, make the same calls."""

    def __init__(self, calls: Sequence[Call], tenant_url: str | None = None) -> None:
        import boto3
        from botocore import xform_name

        session = boto3.session.Session(region_name=REGION)
        clients = {service: session.client(service) for service in {service for service, _, _ in calls}}
        self._calls = [(getattr(clients[service], xform_name(op)), params) for service, op, params in calls]
        self._tenant_url = tenant_url
        self._pool: Any = None
        if tenant_url:
            import urllib3

            self._pool = urllib3.PoolManager(retries=False)

    def push(self, request: Request, key: bytes) -> None:
        headers = request.headers
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
        hmac.compare_digest(expected, headers["webhook-signature"].split(",", 1)[1].encode())
        json.loads(request.body)
        self._aws()

    def notification(self, request: Request, token: str) -> None:
        digest = hmac.new(token.encode(), request.body, hashlib.sha256).hexdigest()
        hmac.compare_digest(digest.encode(), request.headers["x-signature"].encode())
        json.loads(request.body)
        self._aws()

    def start(self, request: Request, path: str) -> None:
        json.loads(request.body)
        self._aws()
        answer = self._pool.request(
            "POST",
            f"{self._tenant_url}{path}",
            body=request.body,
            headers={"Authorization": f"Bearer {AMPECO_TOKEN}", "Content-Type": "application/json"},
        )
        json.loads(answer.data)

    def _aws(self) -> None:
        for method, params in self._calls:
            method(**params)


def measure(flows: Flows, tenant_url: str, progress: Callable[[str], None]) -> dict[str, Warm]:
    """Warm CPU of push, notification and start, paired; of the relay per record, alone (for the costs)."""
    results: dict[str, Warm] = {}
    with bench_stub.replaying() as replay:
        for name in ("push", "notification", "start"):
            case = flows.cases.get(name)
            if case is None or not case.handler:
                continue
            progress(f"warm: {name}, {RUNS} runs of {EVENTS_PER_RUN} events, each paired with its baseline")
            baseline = Baseline(case.handler[-1].calls, tenant_url if name == "start" else None)
            results[name] = _paired(flows, name, baseline)
        if flows.relay_event is not None:
            progress(f"warm: the relay, {RUNS} runs of {EVENTS_PER_RUN} one-record batches")
            results["relay"] = _relay(flows, flows.relay_event)
        if replay.misses:
            raise RuntimeError(f"calls without a recorded answer: {sorted(set(replay.misses))}")
    return results


def _paired(flows: Flows, name: str, baseline: Baseline) -> Warm:
    warm = Warm()
    for run in range(RUNS + 1):
        handler_cpu: list[float] = []
        baseline_cpu: list[float] = []
        for n in range(EVENTS_PER_RUN):
            request = _request(flows, name)
            pair = (functools.partial(_checked, flows, request), _baseline_work(name, baseline, request))
            for index in (0, 1) if n % 2 == 0 else (1, 0):  # alternately first
                started = time.process_time()
                pair[index]()
                (handler_cpu if index == 0 else baseline_cpu).append(time.process_time() - started)
        if run:  # the first run warms both up
            warm.runs.append((handler_cpu, baseline_cpu))
    return warm


def _request(flows: Flows, name: str) -> Request:
    events = flows.events
    if name == "push":
        return events.push()
    if name == "notification":
        return events.notification()
    return events.start()


def _baseline_work(name: str, baseline: Baseline, request: Request) -> Callable[[], None]:
    if name == "push":
        key = charge_point_key(int(request.event["pathParameters"]["chargePoint"]))
        return functools.partial(baseline.push, request, key)
    if name == "notification":
        return functools.partial(baseline.notification, request, AMPECO_TOKEN)
    return functools.partial(baseline.start, request, str(request.event["path"]))


def _checked(flows: Flows, request: Request) -> None:
    status = answer_status(flows.handlers(request))
    if not 200 <= status < 300:
        raise RuntimeError(f"{request.function} answered {status} on the replayed answers")


def _relay(flows: Flows, event: dict[str, Any]) -> Warm:
    one = {**event, "Records": event["Records"][:1]}
    relay = Request(_relay_function(flows), one)
    warm = Warm()
    for run in range(RUNS + 1):
        cpu = []
        for _ in range(EVENTS_PER_RUN):
            started = time.process_time()
            _checked(flows, relay)
            cpu.append(time.process_time() - started)
        if run:
            warm.runs.append((cpu, cpu))
    return warm


def _relay_function(flows: Flows) -> str:
    return flows.stack.template.stream_sources()[0].function
