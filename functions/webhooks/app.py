"""Webhooks: direct security-log pushes (Standard Webhooks) and AMPECO notifications (HMAC)."""

from __future__ import annotations

from bridge import cold_start  # first: a lean init (see the module), settled on the last line

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge import api_doc, webhooks, wiring
from bridge.http_errors import json_response, register_error_handlers
from bridge.http_request import lower_headers, raw_body
from bridge.observability import logger, metrics, tracer

deps = wiring.webhooks()
app = APIGatewayRestResolver()
register_error_handlers(app)


@app.post(
    "/webhooks/charge-points/<chargePoint>/security-events",
    operation_id="securityEventPush",
    summary="Direct security-log push from a charge point",
    description='One event `{type, timestamp, techInfo?}` or `{"events": [...]}` (1 to 100), all or nothing,'
    " signed with Standard Webhooks by the charge point's own secret. Size and signature are checked on the raw"
    " body before anything parses it; a repeated `webhook-id` is stored and relayed once.",
    tags=api_doc.WEBHOOKS,
    responses=api_doc.PUSH,
)
def push_security_events(chargePoint: str) -> Response[str]:  # noqa: N803 - the route's name
    result = webhooks.receive_push(deps, chargePoint, raw_body(app.current_event), lower_headers(app.current_event))
    metrics.add_metric(
        "SecurityEventsStored" if result.new else "DuplicateDeliveries",
        MetricUnit.Count,
        len(result.events) if result.new else 1,
    )
    return json_response(202 if result.new else 200, webhooks.push_answer(result))


@app.post(
    "/webhooks/ampeco",
    operation_id="ampecoNotification",
    summary="AMPECO notification",
    description="A flat JSON notification signed by AMPECO (`X-Signature`: HMAC-SHA256 of the raw body with the"
    " tenant's API token). A correctly signed notification is always acknowledged, whatever its body holds; the"
    " same bytes again are the same delivery.",
    tags=api_doc.WEBHOOKS,
    responses=api_doc.NOTIFICATION,
)
def ampeco_notification() -> Response[str]:
    outcome = webhooks.receive_notification(deps, raw_body(app.current_event), lower_headers(app.current_event))
    for name in webhooks.notification_metrics(outcome):
        metrics.add_metric(name, MetricUnit.Count, 1)
    return json_response(202 if outcome.new else 200, {"message": "Accepted."})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


cold_start.settle()
