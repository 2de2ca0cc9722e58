"""The bench's cost model: Lambda duration from CPU at the memory's vCPU share, list prices, X-Ray traces."""

from __future__ import annotations

from typing import Any

import pytest

from local.bench_cost import (
    Assumptions,
    EventFigures,
    FunctionSettings,
    Invocation,
    Settings,
    billed_ms,
    cost_per_million,
    template_settings,
    traces_per_event,
)
from local.template import Tag

NO_WAITS = Assumptions(aws_call_ms=0, tenant_call_ms=0)
SETTINGS = Settings(
    {"Intake": FunctionSettings(512, "arm64", traced=False), "Relay": FunctionSettings(512, "arm64", traced=True)},
    api_traced=True,
)


def test_cpu_is_stretched_by_the_memorys_share_of_a_vcpu_and_waits_are_added() -> None:
    assert billed_ms(Invocation("Intake", cpu_ms=1.0, aws_calls=0), 1769, NO_WAITS) == 1
    assert billed_ms(Invocation("Intake", cpu_ms=1.0, aws_calls=0), 512, NO_WAITS) == 4  # 3.46 ms, rounded up
    assert billed_ms(Invocation("Intake", cpu_ms=1.0, aws_calls=0), 3538, NO_WAITS) == 1  # one thread: one vCPU
    waits = Assumptions(aws_call_ms=5, tenant_call_ms=300)
    assert billed_ms(Invocation("Intake", cpu_ms=0.0, aws_calls=2, tenant_calls=1), 1769, waits) == 310


def test_a_push_costs_its_api_request_invocations_writes_publish_and_traces() -> None:
    figures = EventFigures(
        [Invocation("Intake", 1.0, 1), Invocation("Relay", 1.0, 1)],
        write_units=4,
        read_units=0,
        sns_publishes=1,
        traced_entries=("api", "Relay"),
    )
    parts = cost_per_million(figures, SETTINGS, NO_WAITS)
    assert parts["api_gateway"] == pytest.approx(3.5)
    assert parts["lambda_requests"] == pytest.approx(0.4)
    assert parts["dynamodb_writes"] == pytest.approx(2.5)
    assert parts["sns"] == pytest.approx(0.5)
    assert parts["xray"] == pytest.approx(10.0)
    # 4 ms at 0.5 GB for each of the two invocations, at the arm64 price.
    assert parts["lambda_compute"] == pytest.approx(2 * 0.004 * 0.5 * 0.0000133334 * 1e6)
    assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"))


def test_traces_follow_the_template_and_its_sampling() -> None:
    figures = EventFigures([Invocation("Intake", 1.0, 1)], 0, 0, 0, traced_entries=("api", "Relay"))
    assert traces_per_event(figures, SETTINGS) == 2.0
    untraced = Settings({"Intake": FunctionSettings(512, "arm64", traced=False)}, api_traced=False)
    assert traces_per_event(figures, untraced) == 0.0
    sampled = Settings(SETTINGS.functions, api_traced=True, sampling_rate=0.05)
    assert traces_per_event(figures, sampled) == pytest.approx(0.1)


def test_settings_from_a_template_with_globals_overrides_and_parameters() -> None:
    raw: dict[str, Any] = {
        "Parameters": {"Tracing": {"Default": "PassThrough"}},
        "Globals": {"Function": {"MemorySize": 512, "Architectures": ["arm64"], "Tracing": Tag("Ref", "Tracing")}},
        "Resources": {
            "A": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "B": {"Type": "AWS::Serverless::Function", "Properties": {"MemorySize": 1024, "Tracing": "Active"}},
            "Api": {"Type": "AWS::Serverless::Api", "Properties": {"TracingEnabled": False}},
        },
    }

    def resolve(value: Any) -> Any:
        return raw["Parameters"][value.value]["Default"] if isinstance(value, Tag) else value

    settings = template_settings(raw, resolve)
    assert settings.functions == {
        "A": FunctionSettings(512, "arm64", traced=False),
        "B": FunctionSettings(1024, "arm64", traced=True),
    }
    assert (settings.api_traced, settings.sampling_rate) == (False, 1.0)
