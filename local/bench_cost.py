"""What an event costs on AWS at list prices, from the bench's measured figures and the template's settings.

us-east-1 list prices (2025). Lambda is billed by GB-seconds of duration (rounded up to 1 ms) and per request; a
function gets memory/1769 MB of one vCPU, so the CPU time measured here is scaled by that share. Time spent
waiting on AWS and the tenant is not CPU: it is added from the stated assumptions. Pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LAMBDA_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
LAMBDA_PER_REQUEST = 0.20 / 1e6
API_GATEWAY_REST_PER_REQUEST = 3.50 / 1e6
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1e6
DYNAMODB_PER_READ_UNIT = 0.125 / 1e6
SNS_PER_PUBLISH = 0.50 / 1e6
SECRETS_MANAGER_PER_CALL = 0.05 / 10_000
XRAY_PER_TRACE = 5.0 / 1e6
FULL_VCPU_MB = 1769


@dataclass(frozen=True)
class Assumptions:
    """What the bench cannot measure locally."""

    aws_call_ms: float = 5.0  # one DynamoDB / SNS / SQS round trip inside the Region
    tenant_call_ms: float = 300.0  # the AMPECO tenant answering a start or a listing page
    secret_cache_seconds: float = 300.0  # the bridge's Secrets Manager cache
    events_per_second_per_container: float = 1.0  # traffic a warm container sees (secret reads amortise over it)
    relay_records_per_invocation: float = 1.0  # low traffic: a stream batch holds one record

    def lines(self) -> list[str]:
        return [
            f"AWS call round trip {self.aws_call_ms:g} ms, tenant call {self.tenant_call_ms:g} ms (waits, not CPU)",
            f"one secret read per container per {self.secret_cache_seconds:g} s, "
            f"{self.events_per_second_per_container:g} event/s per warm container",
            f"{self.relay_records_per_invocation:g} stream record per relay invocation (low traffic)",
            "CPU time on this machine taken as Lambda's; cold starts, CloudWatch Logs, KMS and data transfer left out",
        ]


@dataclass(frozen=True)
class FunctionSettings:
    memory_mb: int
    architecture: str
    traced: bool


@dataclass(frozen=True)
class Settings:
    """The template's functions (memory, architecture, tracing) and whether the API traces requests."""

    functions: Mapping[str, FunctionSettings]
    api_traced: bool
    sampling_rate: float = 1.0


def template_settings(raw: Mapping[str, Any], resolve: Callable[[Any], Any]) -> Settings:
    """Settings from template.yaml; `resolve` evaluates intrinsic functions with the parameters' defaults."""
    globals_fn = raw.get("Globals", {}).get("Function", {})
    resources = raw.get("Resources", {})
    functions = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})

        def setting(key: str, default: Any, props: Mapping[str, Any] = props) -> Any:
            return resolve(props.get(key, globals_fn.get(key, default)))

        architectures = setting("Architectures", ["x86_64"]) or ["x86_64"]
        functions[name] = FunctionSettings(
            memory_mb=int(setting("MemorySize", 128)),
            architecture=str(architectures[0]),
            traced=str(setting("Tracing", "PassThrough")) == "Active",
        )
    api_traced = any(
        bool(resolve(r.get("Properties", {}).get("TracingEnabled", False)))
        for r in resources.values()
        if r.get("Type") == "AWS::Serverless::Api"
    )
    rates = [
        float(resolve(r["Properties"]["SamplingRule"]["FixedRate"]))
        for r in resources.values()
        if r.get("Type") == "AWS::XRay::SamplingRule"
    ]
    return Settings(functions, api_traced, min(rates) if rates else 1.0)


@dataclass(frozen=True)
class Invocation:
    """One Lambda invocation an event causes, with what it measured."""

    function: str
    cpu_ms: float
    aws_calls: float
    tenant_calls: float = 0.0
    per_event: float = 1.0  # invocations per event (a relay batch serves several records)


@dataclass(frozen=True)
class EventFigures:
    """One kind of event: what it made happen."""

    invocations: Sequence[Invocation]
    write_units: float
    read_units: float
    sns_publishes: float
    api_requests: float = 1.0
    secret_reads_per_container: float = 1.0  # distinct secrets the path reads
    traced_entries: Sequence[str] = field(default_factory=tuple)  # "api" and the functions that start a trace


def billed_ms(invocation: Invocation, memory_mb: int, assumptions: Assumptions) -> int:
    """Lambda's billed duration: CPU at the function's share of a vCPU, plus the waits, rounded up to 1 ms."""
    share = min(1.0, memory_mb / FULL_VCPU_MB)
    waits = invocation.aws_calls * assumptions.aws_call_ms + invocation.tenant_calls * assumptions.tenant_call_ms
    return max(1, math.ceil(invocation.cpu_ms / share + waits))


def traces_per_event(figures: EventFigures, settings: Settings) -> float:
    """Traces X-Ray records for one event: the API request's (the API or its function traced), each traced
    stream invocation's, at the sampling rate."""
    traces = 0.0
    for entry in figures.traced_entries:
        if entry == "api":
            first = figures.invocations[0].function if figures.invocations else ""
            api_or_function = settings.api_traced or settings.functions.get(first, _UNTRACED).traced
            traces += 1.0 if api_or_function else 0.0
        elif settings.functions.get(entry, _UNTRACED).traced:
            traces += 1.0
    return traces * settings.sampling_rate


_UNTRACED = FunctionSettings(128, "x86_64", traced=False)


def cost_per_million(figures: EventFigures, settings: Settings, assumptions: Assumptions) -> dict[str, float]:
    """USD per million events, by component, and the total."""
    compute = requests = 0.0
    for invocation in figures.invocations:
        function = settings.functions.get(invocation.function, _UNTRACED)
        seconds = billed_ms(invocation, function.memory_mb, assumptions) / 1000
        price = LAMBDA_GB_SECOND.get(function.architecture, LAMBDA_GB_SECOND["x86_64"])
        compute += invocation.per_event * seconds * function.memory_mb / 1024 * price
        requests += invocation.per_event * LAMBDA_PER_REQUEST
    secret_reads = figures.secret_reads_per_container / (
        assumptions.secret_cache_seconds * assumptions.events_per_second_per_container
    )
    parts = {
        "lambda_compute": compute,
        "lambda_requests": requests,
        "api_gateway": figures.api_requests * API_GATEWAY_REST_PER_REQUEST,
        "dynamodb_writes": figures.write_units * DYNAMODB_PER_WRITE_UNIT,
        "dynamodb_reads": figures.read_units * DYNAMODB_PER_READ_UNIT,
        "sns": figures.sns_publishes * SNS_PER_PUBLISH,
        "secrets_manager": secret_reads * SECRETS_MANAGER_PER_CALL,
        "xray": traces_per_event(figures, settings) * XRAY_PER_TRACE,
    }
    per_million = {name: value * 1e6 for name, value in parts.items()}
    per_million["total"] = sum(per_million.values())
    return per_million


def price_lines(settings: Settings) -> list[str]:
    """The prices and the template's settings, as printed under the table."""
    memories = sorted({f.memory_mb for f in settings.functions.values()})
    architectures = sorted({f.architecture for f in settings.functions.values()})
    traced = sorted(name for name, f in settings.functions.items() if f.traced)
    return [
        "us-east-1 list prices (2025): Lambda arm64 $0.0000133334 per GB-s (x86_64 $0.0000166667), $0.20 per 1M "
        "requests; API Gateway REST $3.50 per 1M; DynamoDB on-demand $0.625 per 1M write units, $0.125 per 1M read "
        "units; SNS $0.50 per 1M publishes; Secrets Manager $0.05 per 10,000 calls; X-Ray $5 per 1M traces recorded",
        f"template: memory {', '.join(f'{m} MB' for m in memories)}, {', '.join(architectures)}; CPU share "
        f"memory/{FULL_VCPU_MB} MB of one vCPU; X-Ray on the API: {'yes' if settings.api_traced else 'no'}, on "
        f"functions: {', '.join(traced) or 'none'}; sampled {settings.sampling_rate:.0%}",
    ]
