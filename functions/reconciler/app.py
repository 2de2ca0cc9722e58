"""Reconciler: on a schedule, takes in what the tenant's own listings hold and the webhooks did not bring."""

from __future__ import annotations

from bridge import cold_start  # first: a lean init (see the module), settled on the last line

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge import wiring
from bridge.observability import logger, tracer
from bridge.reconciler import run_once

deps = wiring.reconciler()


def budget_spent(context: LambdaContext, reserve_ms: int) -> bool:
    """Whether another tenant call (its deadline plus room to record it) may no longer fit."""
    return context.get_remaining_time_in_millis() < reserve_ms


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(_event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The metrics are single metrics, one per kind: there is nothing for log_metrics to flush.
    reserve_ms = int((deps.settings.ampeco_timeout_seconds + 15) * 1000)
    return run_once(deps, lambda: budget_spent(context, reserve_ms))


cold_start.settle()
