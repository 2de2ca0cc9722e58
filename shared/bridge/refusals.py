"""Every refused request is visible: one structured log line and one `RequestsRefused` metric by reason.

The line names the reason, status, route, charge point and webhook-id: never a secret, a signature or a
body, and the values a client chose are cut to a short, printable form.
"""

from __future__ import annotations

import re

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from bridge.errors import BridgeError
from bridge.observability import logger

METRIC = "RequestsRefused"
_PRINTABLE = re.compile(r"[^\x21-\x7e]")
MAX_CHARS = 64


def record(error: BridgeError, route: str | None, charge_point: str | None, webhook_id: str | None) -> None:
    """Log and count one refusal (the error must have a reason)."""
    reason = error.reason or "refused"
    logger.warning(
        "request refused",
        extra={
            "reason": reason,
            "status": error.status,
            "route": clip(route),
            "charge_point": clip(charge_point),
            "webhook_id": clip(webhook_id),
        },
    )
    with single_metric(name=METRIC, unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="reason", value=reason)


def clip(value: str | None) -> str | None:
    """A client-chosen value as it may appear in a log line: printable ASCII, at most MAX_CHARS."""
    if value is None:
        return None
    safe = _PRINTABLE.sub("?", value[:MAX_CHARS])
    return safe + "…" if len(value) > MAX_CHARS else safe
