"""The bench's figures: names, targets, paired ratios, the printed table, results.json, progress. Pure helpers.

Every target is an upper bound: a figure holds when it is at most its target (rounded as printed).
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

INTAKE_COLD_TARGET = 1.4
OTHER_COLD_TARGET = 1.6
WARM_CPU_TARGET = 1.5
READ_TARGET = 1.0
NOTIFICATION_WRITE_UNITS_TARGET = 4.0
SNS_PUBLISHES_TARGET = 1.0
PEAK_RSS_TARGET_MB = 73.0  # the issue: "peak RSS about 73 MiB: keep it"
# The calls per event today ("keep them"): AWS calls, and the tenant call of a start.
AWS_CALLS_TARGETS = {"push": 1.0, "notification": 1.0, "listing": 1.0, "read": 1.0, "start": 2.0}
TENANT_CALLS_TARGETS = {"start": 1.0}


def targets_for(metrics: Iterable[str], intake_functions: Iterable[str]) -> dict[str, float]:
    """The target of every metric that has one."""
    intake = set(intake_functions)
    targets: dict[str, float] = {}
    for name in metrics:
        kind, _, subject = name.partition(".")
        if kind == "cold_start_ratio":
            targets[name] = INTAKE_COLD_TARGET if subject in intake else OTHER_COLD_TARGET
        elif kind == "warm_cpu_ratio":
            targets[name] = WARM_CPU_TARGET
        elif kind in {"read_amplification", "read_growth"}:
            targets[name] = READ_TARGET
        elif name == "write_units_per_event.notification":
            targets[name] = NOTIFICATION_WRITE_UNITS_TARGET
        elif kind == "sns_publishes_per_event":
            targets[name] = SNS_PUBLISHES_TARGET
        elif kind == "peak_rss_mb":
            targets[name] = PEAK_RSS_TARGET_MB
        elif kind == "aws_calls_per_event" and subject in AWS_CALLS_TARGETS:
            targets[name] = AWS_CALLS_TARGETS[subject]
        elif kind == "tenant_calls_per_event" and subject in TENANT_CALLS_TARGETS:
            targets[name] = TENANT_CALLS_TARGETS[subject]
    return targets


def decimals(name: str) -> int:
    """How a figure is printed (and compared with its target)."""
    kind = name.partition(".")[0]
    if kind in {"cost_per_million_usd", "write_units_per_event", "aws_calls_per_event", "tenant_calls_per_event"}:
        return 2 if kind != "cost_per_million_usd" else 3
    return 1 if kind == "peak_rss_mb" else 2


def holds(name: str, value: float | None, target: float | None) -> bool | None:
    """Whether the figure meets its target; None without a target or a figure."""
    if target is None or value is None or math.isnan(value):
        return None
    return round(value, decimals(name)) <= target


# ---------------------------------------------------------------------- statistics
def median(values: Sequence[float]) -> float:
    """The median; NaN for no values."""
    return statistics.median(values) if values else math.nan


def paired_ratio(runs: Sequence[tuple[Sequence[float], Sequence[float]]]) -> float:
    """The median over runs of (median figure / median baseline), each pair measured interleaved in one run."""
    ratios = [median(figure) / median(baseline) for figure, baseline in runs if figure and baseline]
    return median([r for r in ratios if not math.isnan(r)])


def amplification(items_read: int, returned: int, look_ahead: int) -> float:
    """Items read per item returned, not counting the look-ahead item a page reads to know there is more."""
    if returned:
        return max(items_read - look_ahead, 0) / returned
    return math.inf if items_read else math.nan


def growth(small: float, large: float) -> float:
    """How a figure changes from the small table to the large one (1.0: not at all)."""
    if math.isnan(small) or math.isnan(large) or small == 0:
        return math.nan
    return large / small


def filter_combinations(dimensions: Sequence[str]) -> list[tuple[str, ...]]:
    """Every combination of the dimensions, the empty one first."""
    return [combo for size in range(len(dimensions) + 1) for combo in itertools.combinations(dimensions, size)]


def combination_name(combo: Sequence[str]) -> str:
    return "+".join(combo) or "none"


# ---------------------------------------------------------------------- output
@dataclass
class Results:
    """Figures by metric name, and for the paired ones what they were measured against."""

    metrics: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, float] = field(default_factory=dict)  # the baseline's own figure (ms, or the 10k value)
    details: dict[str, str] = field(default_factory=dict)  # printed beside the figure
    failures: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, detail: str = "", baseline: float | None = None) -> None:
        self.metrics[name] = value
        if detail:
            self.details[name] = detail
        if baseline is not None:
            self.baselines[name] = baseline


def document(results: Results, targets: Mapping[str, float], notes: Mapping[str, Any]) -> dict[str, Any]:
    """results.json: figures, baselines, targets (upper bounds), and how they were measured."""

    def clean(value: float) -> float | None:
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)

    return {
        "metrics": {k: clean(v) for k, v in results.metrics.items()},
        "baselines": {k: clean(v) for k, v in results.baselines.items()},
        "targets": dict(targets),
        "failures": list(results.failures),
        "notes": dict(notes),
    }


def write_document(path: Path, doc: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")


def format_value(name: str, value: float | None) -> str:
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.{decimals(name)}f}"


def table_rows(results: Results, targets: Mapping[str, float]) -> list[list[str]]:
    """metric, figure, measured against, target, holds."""
    rows = []
    for name, value in results.metrics.items():
        target = targets.get(name)
        verdict = holds(name, value, target)
        rows.append(
            [
                name,
                format_value(name, value),
                results.details.get(name, ""),
                f"<= {target:g}" if target is not None else "-",
                "-" if verdict is None else "yes" if verdict else "NO",
            ]
        )
    return rows


def render_table(out: TextIO, headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> None:
    """An aligned table: `align` has one `l` or `r` per column."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True)]
        return "  " + "  ".join(parts).rstrip()

    print(line(headers), file=out)
    print("  " + "  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line(row), file=out)


class Progress:
    """Progress lines on stderr (the table goes to stdout): what runs now, with the time since the start."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out or sys.stderr
        self._started = time.monotonic()
        self._last = 0.0

    def __call__(self, message: str, *, every: float = 0.0) -> None:
        """A line now; with `every`, only when the last line is that many seconds old (a step of a long loop)."""
        now = time.monotonic()
        if every and now - self._last < every:
            return
        self._last = now
        elapsed = int(now - self._started)
        print(f"bench [{elapsed // 60}:{elapsed % 60:02d}] {message}", file=self._out, flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started
