"""Session starts on AMPECO's paths: forwarded to the tenant at most once, every attempt recorded."""

from __future__ import annotations

from bridge import cold_start  # first: a lean init (see the module), settled on the last line

# isort: split
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge import api_doc, wiring
from bridge.http_errors import register_error_handlers, start_response
from bridge.http_request import api_caller, lower_headers, raw_body
from bridge.models.starts import StartPath
from bridge.observability import logger, metrics, tracer
from bridge.starts_api import StartService

service = StartService(wiring.starts())
app = APIGatewayRestResolver()
register_error_handlers(app)


@app.post(
    "/public-api/actions/charge-point/v1.0/<chargePoint>/start/<evse>",
    operation_id="chargePointStartChargingSession",
    summary="Start a session on a charge point's EVSE",
    description=api_doc.START_DESCRIPTION,
    tags=api_doc.STARTS,
    security=api_doc.CLIENT,
    responses=api_doc.START,
)
def start_on_charge_point(chargePoint: str, evse: str) -> Response[str]:  # noqa: N803 - the route's names
    return _start(StartPath.CHARGE_POINT, chargePoint, evse)


@app.post(
    "/public-api/actions/evse/v1.0/<evse>/start",
    operation_id="evseStartChargingWithEvseId",
    summary="Start a session by EVSE id",
    description=api_doc.START_DESCRIPTION,
    tags=api_doc.STARTS,
    security=api_doc.CLIENT,
    responses=api_doc.START,
)
def start_on_evse(evse: str) -> Response[str]:
    return _start(StartPath.EVSE, None, evse)


def _start(path: StartPath, charge_point: str | None, evse: str) -> Response[str]:
    event = app.current_event
    headers = lower_headers(event)
    answer = service.start(path, charge_point, evse, raw_body(event), headers.get("idempotency-key"), api_caller(event))
    return start_response(answer)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


cold_start.settle()
