"""AMPECO-shaped reads: security events and sessions (listing and read), and liveness."""

from __future__ import annotations

from bridge import cold_start  # first: a lean init (see the module), settled on the last line

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge import api_doc, queries, wiring
from bridge.http_errors import json_response, register_error_handlers
from bridge.http_request import public_base_url, query_parameters
from bridge.observability import logger, metrics, tracer

deps = wiring.queries()
app = APIGatewayRestResolver()
register_error_handlers(app)


@app.get(
    "/public-api/resources/security-events/v2.0",
    operation_id="securityEventsListing",
    summary="Security events",
    description="AMPECO's listing of the seven critical types, newest first, with cursor pagination.",
    tags=api_doc.SECURITY_EVENTS,
    security=api_doc.CLIENT,
    responses=api_doc.SECURITY_EVENT_LISTING,
)
def list_security_events() -> Response[str]:
    event = app.current_event
    return json_response(200, queries.security_event_listing(deps, query_parameters(event), public_base_url(event)))


@app.get(
    "/public-api/resources/security-events/v2.0/<securityEvent>",
    operation_id="securityEventRead",
    summary="One security event",
    tags=api_doc.SECURITY_EVENTS,
    security=api_doc.CLIENT,
    responses=api_doc.SECURITY_EVENT_READ,
)
def read_security_event(securityEvent: str) -> Response[str]:  # noqa: N803 - the route's name
    return json_response(200, queries.security_event(deps, securityEvent))


@app.get(
    "/public-api/resources/sessions/v1.0",
    operation_id="sessionsListing",
    summary="Sessions",
    description="AMPECO's session listing with cursor pagination, each session with `randomisedDelay`. AMPECO's"
    " other query flags (`withAuthorization`, `include[]`, ...) are accepted and ignored.",
    tags=api_doc.SESSIONS,
    security=api_doc.CLIENT,
    responses=api_doc.SESSION_LISTING,
)
def list_sessions() -> Response[str]:
    event = app.current_event
    return json_response(200, queries.session_listing(deps, query_parameters(event), public_base_url(event)))


@app.get(
    "/public-api/resources/sessions/v1.0/<session>",
    operation_id="sessionRead",
    summary="One session",
    tags=api_doc.SESSIONS,
    security=api_doc.CLIENT,
    responses=api_doc.SESSION_READ,
)
def read_session(session: str) -> Response[str]:
    return json_response(200, queries.session(deps, session))


@app.get("/health", operation_id="health", summary="Liveness", tags=api_doc.HEALTH, responses=api_doc.HEALTH_CHECK)
def health() -> Response[str]:
    return json_response(200, {"status": "ok"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


cold_start.settle()
