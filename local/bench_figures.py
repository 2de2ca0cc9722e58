"""The bench's measurements turned into named figures, the printed table and bench/results.json."""

from __future__ import annotations

import math
import platform
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from local import bench_cold, bench_listing, bench_warm
from local.bench_cost import Assumptions, EventFigures, Invocation, Settings, cost_per_million, price_lines
from local.bench_flows import CASE_EVENTS, Flows, operations
from local.bench_report import Results, document, growth, holds, render_table, table_rows, targets_for, write_document
from local.template import TemplateModel

ASSUMPTIONS = Assumptions()
CALL_CASES = ("push", "notification", "session_notification", "listing", "read", "start")
WRITE_CASES = ("push", "notification", "start", "session_notification")
PUBLISH_CASES = ("push", "notification", "start")
COST_CASES = ("push", "notification", "start")


def cold(results: Results, colds: Mapping[str, bench_cold.Cold]) -> None:
    for function, run in colds.items():
        if run.error or not run.rounds:
            results.failures.append(f"cold start of {function}: {run.error or 'no runs'}")
            continue
        base = run.ms(1)
        results.add(
            f"cold_start_ratio.{function}",
            run.ratio(compiled=True),
            f"{run.ms(0):.0f} ms / baseline {base:.0f} ms, {len(run.calls)} AWS calls",
            base,
        )
        results.add(
            f"cold_start_ratio_no_pyc.{function}", run.ratio(compiled=False), f"{run.ms(2):.0f} ms without .pyc", base
        )
    for function, run in colds.items():
        if run.peak_rss_kib:
            results.add(
                f"peak_rss_mb.{function}", statistics.median(run.peak_rss_kib) / 1024, "MiB, after the first event"
            )


def flows(results: Results, measured: Flows) -> None:
    cases = measured.cases
    for name in CALL_CASES:
        case = cases.get(name)
        if case is None:
            continue
        ops = ", ".join(f"{op} {count / case.events:g}" for op, count in sorted(operations(case).items()))
        results.add(f"aws_calls_per_event.{name}", case.mean(lambda t: t.aws_calls), ops or "none")
    start = cases.get("start")
    if start is not None:
        results.add("tenant_calls_per_event.start", start.tenant_calls / start.events, "the tenant's start endpoint")
    for name in WRITE_CASES:
        case = cases.get(name)
        if case is None:
            continue
        units = case.mean(lambda t: t.write_units) + case.relay.write_units / case.events
        detail = "a new session, then an update of it, alternately" if name == "session_notification" else ""
        results.add(f"write_units_per_event.{name}", units, detail or "handler and relay, as billed")
    published = events = 0
    for name in PUBLISH_CASES:
        case = cases.get(name)
        if case is None:
            continue
        published += case.relay.publishes
        events += case.events
        results.add(f"sns_publishes_per_event.{name}", case.relay.publishes / case.events, "by the relay")
    if events:
        results.add("sns_publishes_per_event", published / events, f"{published} publishes for {events} events")


def warm(results: Results, measured: Mapping[str, bench_warm.Warm]) -> None:
    for name, figures in measured.items():
        if name == "relay":
            results.add("warm_cpu_ms.relay", figures.handler_ms, "CPU per one-record batch (for the costs)")
            continue
        detail = f"{figures.handler_ms:.2f} ms / baseline {figures.baseline_ms:.2f} ms CPU per event"
        results.add(f"warm_cpu_ratio.{name}", figures.ratio, detail, figures.baseline_ms)


def listings(results: Results, measured: Sequence[bench_listing.Listing]) -> None:
    small, large = bench_listing.SIZES
    for listing in measured:
        if listing.error:
            results.failures.append(f"listing {listing.name}: {listing.error}")
        for combo, readings in listing.readings.items():
            if large not in readings:
                continue
            at_large = readings[large]
            name = f"{listing.name}.{combo}"
            detail = f"read {at_large.items_read - at_large.look_ahead} for {at_large.returned}"
            results.add(f"read_amplification.{name}", at_large.amplification, detail)
            if small in readings:
                before = readings[small].amplification
                change = f"{before:.2f} at {small // 1000}k, {at_large.amplification:.2f} at {large // 1000}k"
                results.add(f"read_growth.{name}", growth(before, at_large.amplification), change, before)


def costs(results: Results, measured: Flows, warm_runs: Mapping[str, bench_warm.Warm], settings: Settings) -> None:
    relay_function = next((s.function for s in measured.stack.template.stream_sources()), "")
    relay_cpu = warm_runs["relay"].handler_ms if "relay" in warm_runs else math.nan
    for name in COST_CASES:
        case = measured.cases.get(name)
        if case is None or name not in warm_runs or case.sample is None:
            continue
        publishes = case.relay.publishes / case.events
        invocations = [
            Invocation(
                case.sample.function,
                warm_runs[name].handler_ms,
                case.mean(lambda t: t.aws_calls),
                case.tenant_calls / case.events,
            )
        ]
        if publishes and not math.isnan(relay_cpu):
            per_event = publishes / ASSUMPTIONS.relay_records_per_invocation
            invocations.append(
                Invocation(relay_function, relay_cpu, case.relay.aws_calls / case.relay.publishes, per_event=per_event)
            )
        figures = EventFigures(
            invocations,
            write_units=case.mean(lambda t: t.write_units) + case.relay.write_units / case.events,
            read_units=case.mean(lambda t: t.read_units) + case.relay.read_units / case.events,
            sns_publishes=publishes,
            traced_entries=("api", relay_function) if publishes else ("api",),
        )
        parts = cost_per_million(figures, settings, ASSUMPTIONS)
        shown = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in parts.items() if k != "total" and v >= 0.0005)
        results.add(f"cost_per_million_usd.{name}", parts["total"], shown)


def intake_functions(template_model: TemplateModel) -> set[str]:
    """The functions that take in webhooks (their cold-start target is the tighter one)."""
    return {r.function for r in template_model.routes() if r.path.startswith("/webhooks")}


def report(
    out: TextIO,
    results: Results,
    template_model: TemplateModel,
    settings: Settings,
    layer: Sequence[str],
) -> None:
    targets = targets_for(results.metrics, intake_functions(template_model))
    print(
        f"make bench: Python {platform.python_version()} ({platform.machine()}), every target an upper bound", file=out
    )
    render_table(out, ["figure", "value", "measured", "target", "holds"], table_rows(results, targets), "lrlrl")
    verdicts = [holds(n, results.metrics.get(n), t) for n, t in targets.items()]
    print(f"\n  {verdicts.count(True)} of {len(targets)} targets hold.", file=out)
    for line in notes(settings, layer):
        print(f"  {line}", file=out)
    for failure in results.failures:
        print(f"  FAILED: {failure}", file=out)


def notes(settings: Settings, layer: Sequence[str]) -> list[str]:
    small, large = bench_listing.SIZES
    return [
        f"cold: fresh interpreter, import + first event, median of {bench_cold.ROUNDS} rounds (after a warm-up) of "
        "(function with .pyc, baseline, function without .pyc); baseline = import boto3, the function's clients, "
        "one put_item; AWS answered in-process from moto's recorded answers, the tenant by its simulator",
        f"layers as their BuildMethod builds them: {'; '.join(layer) or 'none'}; the runtime's: boto3 and its own",
        f"warm: CPU per event, {bench_warm.RUNS} runs of {bench_warm.EVENTS_PER_RUN} events, each paired with a "
        "baseline (signature check, JSON parse, the same AWS calls on the same stub, a start's tenant call)",
        f"calls, write units, publishes: mean of {CASE_EVENTS} warm events per case on moto (the relay drained after)",
        f"listings: first page (per_page {bench_listing.PER_PAGE}) at {large:,} items; growth = figure at "
        f"{large // 1000}k / figure at {small // 1000}k; items read: the Queries' ScannedCount, less one look-ahead; "
        f"{bench_listing.HOT} items meet every filter, the rest drawn independently (deterministic: one run)",
        *price_lines(settings),
        *ASSUMPTIONS.lines(),
    ]


def save(path: Path, results: Results, template_model: TemplateModel, settings: Settings) -> None:
    targets = targets_for(results.metrics, intake_functions(template_model))
    write_document(path, document(results, targets, {"how": notes(settings, []), "details": results.details}))
