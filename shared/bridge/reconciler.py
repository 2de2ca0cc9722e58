"""One reconciler run: both listings within the time budget (the sessions' also retry ambiguous starts).

Every figure an operator needs is a metric: `ReconciledItems` by kind (nonzero: webhooks are being lost),
`WatermarkLagSeconds` by kind, `ReconcileFailures` and `ReconcileSkippedItems` by kind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from bridge import reconcile
from bridge.observability import logger
from bridge.reconcile import Kind, RunReport
from bridge.wiring import ReconcilerDependencies


def run_once(deps: ReconcilerDependencies, out_of_time: Callable[[], bool]) -> dict[str, Any]:
    """Reconcile security events, then sessions, then retry ambiguous starts; a summary for the log."""
    overlap = timedelta(seconds=deps.settings.reconcile_overlap_seconds)
    fetchers = {Kind.SECURITY_EVENTS: deps.listings.security_events, Kind.SESSIONS: deps.listings.sessions}
    takers = {
        Kind.SECURITY_EVENTS: reconcile.security_event_taker(deps.events),
        Kind.SESSIONS: reconcile.session_taker(deps.sessions, deps.resolver, deps.clock),
    }
    summary: dict[str, Any] = {}
    for kind in Kind:
        report = reconcile.run(
            kind,
            deps.progress,
            fetchers[kind],
            takers[kind],
            now=deps.clock(),
            overlap=overlap,
            out_of_time=out_of_time,
        )
        _publish(report, deps)
        summary[kind.value] = {
            "pages": report.pages,
            "listed": report.listed,
            "reconciled": report.reconciled,
            "skipped": report.skipped,
            "finished": report.finished,
            "failure": report.failure,
        }
    logger.info("reconciliation run", extra={"summary": summary})
    return summary


def _publish(report: RunReport, deps: ReconcilerDependencies) -> None:
    _count("ReconciledItems", report.reconciled, report.kind)
    _count("ReconcileSkippedItems", report.skipped, report.kind)
    _count("ReconcileFailures", 1 if report.failure else 0, report.kind)
    lag = report.lag_seconds(deps.clock())
    if lag is not None:
        with single_metric(name="WatermarkLagSeconds", unit=MetricUnit.Seconds, value=lag) as metric:
            metric.add_dimension(name="kind", value=report.kind.value)


def _count(name: str, value: int, kind: Kind | None = None) -> None:
    with single_metric(name=name, unit=MetricUnit.Count, value=value) as metric:
        if kind is not None:
            metric.add_dimension(name="kind", value=kind.value)
