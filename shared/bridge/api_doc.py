"""What each API route declares for the OpenAPI document: plain data for the route decorators.

Nothing here is used to answer a request, and nothing here imports anything, so describing the API costs no
cold start. `local.openapi_doc` builds docs/openapi.json from the resolvers; the schema names below are the
components it adds from `bridge.models.api`, which no function imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

API_KEY = "apiKey"
"""The security scheme of the client routes: the usage-plan key in `x-api-key`."""
CLIENT: list[dict[str, list[str]]] = [{API_KEY: []}]

WEBHOOKS = ["Webhooks"]
STARTS = ["Starts"]
SECURITY_EVENTS = ["Security events"]
SESSIONS = ["Sessions"]
HEALTH = ["Health"]

_RETRY_AFTER_503 = {
    "description": "Seconds to wait before retrying.",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
_RETRY_AFTER_429 = {
    "description": "Seconds to wait before retrying: always on the bridge's own 429; API Gateway's stage throttling"
    " and a tenant's 429 passed through may carry none.",
    "required": False,
    "schema": {"type": "string"},
}
_ATTEMPT_ID = "X-Bridge-Attempt-Id"

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("Error", "Malformed JSON: not JSON, `NaN` or `Infinity`, a lone surrogate, or nested absurdly deep."),
    401: ("Error", "A bad or missing signature, or an `X-Tenant` other than the configured tenant."),
    403: ("Error", "A missing or wrong `x-api-key`, refused before the function runs (API Gateway and the local run)."),
    404: ("Error", "An unknown id, or a path id the route does not take."),
    405: ("Error", "A method the route does not have (API Gateway answers 403 instead)."),
    409: ("Error", "A start with the same `Idempotency-Key` is still in flight."),
    413: ("Error", "A body over 256 KiB."),
    422: ("Error", "Invalid input; `errors` names each field and what is wrong with it."),
    429: ("Error", "Throttled before any effect; retry after `Retry-After` seconds."),
    503: ("Error", "Storage unavailable before any effect, or a secret the bridge needs is unset; retry later."),
    502: (
        "UpstreamError",
        "The tenant failed: unreachable, a 5xx, a 401/403 (the bridge's own token is wrong), or an answer that is"
        " not AMPECO's.",
    ),
    504: ("UpstreamError", "The tenant did not answer within `AMPECO_TIMEOUT_SECONDS` (`UPSTREAM_TIMEOUT`)."),
}


def schema_ref(name: str) -> dict[str, str]:
    """A reference to a component schema of the document."""
    return {"$ref": f"#/components/schemas/{name}"}


def answer(description: str, schema: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """One declared response with a JSON body."""
    declared: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema_ref(schema)}},
    }
    if headers:
        declared["headers"] = headers
    return declared


def responses(success: dict[int, dict[str, Any]], *errors: int, starts: bool = False) -> dict[int, OpenAPIResponse]:
    """The route's success answers and the error statuses it can give, in AMPECO's error format."""
    declared = dict(success)
    for status in errors:
        schema, description = _ERRORS[status]
        headers: dict[str, Any] = {}
        if status == 503:
            headers["Retry-After"] = _RETRY_AFTER_503
        if status == 429:
            headers["Retry-After"] = _RETRY_AFTER_429
        if starts and status in _ATTEMPT_STATUSES:
            description, headers = _start_error(status, description, headers)
        declared[status] = answer(description, schema, headers)
    return cast("dict[int, OpenAPIResponse]", declared)


def _start_error(status: int, description: str, headers: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A start's error: the tenant's 400/404/409/422/429 pass through, and answers after validation carry the id."""
    if status in (400, 404, 409, 422, 429):
        description += " Or the tenant's own answer with this status, passed through with its body."
    required = status in (502, 504)
    headers = {
        **headers,
        _ATTEMPT_ID: {
            "description": "The recorded start attempt"
            + (": on every answer given after the tenant was called." if required else ", once one exists."),
            "required": required,
            "schema": {"type": "string"},
        },
    }
    return description, headers


_CLIENT_ERRORS = (403, 405, 413, 429, 503)
_ATTEMPT_STATUSES = (400, 404, 409, 422, 429, 503, 502, 504)  # a start's answers that may follow an attempt

PUSH = responses(
    {
        202: answer("Stored and queued for relay: the ids the events got.", "PushAccepted"),
        200: answer("A repeated delivery (same `webhook-id`): nothing stored again; the same ids.", "PushAccepted"),
    },
    400,
    401,
    404,
    405,
    413,
    422,
    429,
    503,
)
NOTIFICATION = responses(
    {
        202: answer(
            "Recorded (a body that is not what AMPECO documents is quarantined, never refused).", "NotificationAccepted"
        ),
        200: answer("A repeated delivery (the same bytes): nothing recorded again.", "NotificationAccepted"),
    },
    401,
    405,
    413,
    429,
    503,
)
SECURITY_EVENT_LISTING = responses(
    {200: answer("One page, newest first.", "SecurityEventsListing")}, *_CLIENT_ERRORS, 422
)
SECURITY_EVENT_READ = responses({200: answer("The security event.", "SecurityEventRead")}, *_CLIENT_ERRORS, 404)
SESSION_LISTING = responses(
    {200: answer("One page, newest `startedAt` first, then `id` descending.", "SessionsListing")},
    *_CLIENT_ERRORS,
    422,
)
SESSION_READ = responses({200: answer("The session.", "SessionRead")}, *_CLIENT_ERRORS, 404)
START = responses(
    {
        202: answer(
            "The tenant's answer, unchanged: `success: false` with an `errorCode` is a rejection.",
            "StartAccepted",
            {
                _ATTEMPT_ID: {
                    "description": "The recorded start attempt.",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        )
    },
    400,
    404,
    409,
    422,
    *_CLIENT_ERRORS,
    502,
    504,
    starts=True,
)
HEALTH_CHECK = responses({200: answer("The bridge is up.", "Health")}, 405, 413)
START_DESCRIPTION = (
    "AMPECO's start request (no body and `{}` are valid; unknown fields are forwarded unchanged), forwarded to the"
    " tenant once. With an `Idempotency-Key`, a repeat with the same JSON body gets the first final answer again."
)
