"""`python -m local.bench` (what `make bench` runs): each figure beside its baseline and target.

Writes bench/results.json (`metrics`, `baselines`, `targets`: upper bounds) and prints the table. Progress lines go
to stderr while it runs. Nothing leaves the machine: AWS is moto (phases one and three) or moto's recorded answers
(`bench_stub`, phases two and cold starts), the AMPECO tenant is the local simulator in its own process.

1. flows (`bench_flows`): the real handlers in this process on moto; AWS calls, write and read units and SNS
   publishes per event, and every answer moto gives them, recorded.
2. warm CPU (`bench_warm`): each handler against a baseline doing only the unavoidable work, interleaved.
3. cold starts (`bench_cold`): fresh interpreters, each function laid out as Lambda does (`bench_layout`),
   against a boto3 + clients + put_item baseline, interleaved.
4. listings (`bench_listing`): items read per item returned, every filter combination, 10k and 100k items.
5. cost per million events (`bench_cost`) from the figures above, at list prices.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local.lambda_runtime import ensure_layer_on_path
from local.template import ROOT, TemplateModel, load_template

if TYPE_CHECKING:
    from local.bench_cost import Settings
    from local.bench_events import Events
    from local.bench_flows import Flows

RESULTS = ROOT / "bench" / "results.json"


def main() -> int:
    out = sys.stdout
    ensure_layer_on_path()  # this tree's package before any installed copy, and before anything imports it
    from local import bench_cold, bench_flows, bench_layout, bench_listing, bench_stub, bench_warm
    from local.aws import set_fake_environment
    from local.bench_events import AMPECO_TOKEN
    from local.bench_report import Progress, Results
    from local.bench_tenant import tenant_process

    progress = Progress()
    set_fake_environment()
    bench_stub.install()
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    template_model = TemplateModel(load_template())
    results = Results()
    progress(f"bench: Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    # The handlers print logs and metrics to stdout: the table goes to the real one.
    with (
        tenant_process(AMPECO_TOKEN) as tenant_url,
        tenant_process(AMPECO_TOKEN) as quiet_tenant_url,
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        tempfile.TemporaryDirectory(prefix="bench-lambda-") as scratch,
    ):
        flows = bench_flows.run(tenant_url, progress)
        results.failures += flows.failures
        warm: dict[str, Any] = {}
        try:
            warm = bench_warm.measure(flows, tenant_url, progress)
        except Exception as exc:
            results.failures.append(f"warm CPU: {type(exc).__name__}: {exc}")
        answers = Path(scratch, "answers.json")
        bench_stub.save(answers)
        table = flows.stack.refs.get("SecurityEventsTable", "SecurityEventsTable")
        sources = {f: bench_cold.baseline_source(s, table) for f, s in flows.services.items()}
        layout = bench_layout.build(Path(scratch, "layout"), template_model, sources, progress)
        settings = _settings(flows)
        traced = {name: f.traced for name, f in settings.functions.items()}
        events = _cold_events(flows)
        environments = _cold_environments(flows, quiet_tenant_url)
        cold = bench_cold.run(layout, template_model, environments, events, traced, answers, progress)
        listings = bench_listing.measure(progress)
    from local import bench_figures

    bench_figures.cold(results, cold)
    bench_figures.flows(results, flows)
    bench_figures.warm(results, warm)
    bench_figures.listings(results, listings)
    bench_figures.costs(results, flows, warm, settings)
    progress(f"bench: done in {progress.elapsed:.0f} s")
    bench_figures.report(out, results, template_model, settings, layout.layer_distributions)
    bench_figures.save(RESULTS, results, template_model, settings)
    print(f"\n(wrote {RESULTS.relative_to(ROOT)}; the bench took {progress.elapsed:.0f} s)", file=out)
    return 1 if results.failures else 0


def _settings(flows: Flows) -> Settings:
    from local.bench_cost import template_settings

    return template_settings(flows.stack.template.raw, flows.stack.resolve)


def _cold_environments(flows: Flows, quiet_tenant_url: str) -> dict[str, dict[str, str]]:
    """Each function's environment; all but the starts talk to a tenant nobody started sessions on, so that the
    reconciler's first run finds the same (nothing new) in every round."""
    template = flows.stack.template
    starts = {r.function for r in template.routes() if r.method == "POST" and "/start" in r.path}
    environments = {}
    for function in template.functions():
        environment = flows.environment(function)
        if "AMPECO_BASE_URL" in environment and function not in starts:
            environment["AMPECO_BASE_URL"] = quiet_tenant_url
        environments[function] = environment
    return environments


def _cold_events(flows: Flows) -> dict[str, Callable[[], dict[str, Any]]]:
    """Each function's first event, made anew for every cold start (a push's signature is only valid briefly)."""
    from local.bench_events import PUSH_PATH, SECURITY_EVENTS_PATH

    events, template = flows.events, flows.stack.template
    makers: dict[str, Callable[[], dict[str, Any]]] = {}
    streams = {s.function for s in template.stream_sources()}
    for function in template.functions():
        routes = [r for r in template.routes() if r.function == function]
        paths = {(r.method, r.path) for r in routes}
        if ("POST", PUSH_PATH.format("{chargePoint}")) in paths:
            makers[function] = lambda: events.push().event
        elif ("GET", SECURITY_EVENTS_PATH) in paths:
            makers[function] = lambda: events.listing().event
        elif any(method == "POST" and "/start" in path for method, path in paths):
            makers[function] = lambda: events.start().event
        elif function in streams and flows.relay_event is not None:
            one_record = {**flows.relay_event, "Records": flows.relay_event["Records"][:1]}
            makers[function] = functools.partial(dict, one_record)
        elif not routes and function not in streams:
            makers[function] = functools.partial(_scheduled, events, function)
    return makers


def _scheduled(events: Events, function: str) -> dict[str, Any]:
    return events.scheduled(function).event


if __name__ == "__main__":
    sys.exit(main())
