"""docs/openapi.json, generated from the API functions' resolvers: `python -m local.openapi_doc` (`make openapi`).

Each handler's routes carry their summary, tags, security and declared responses (`bridge.api_doc`); this module
asks each resolver for its OpenAPI document (Powertools' `get_openapi_schema`), merges the three, and adds what
Powertools reads only from validated handler signatures, which the functions do without: the path parameters'
types, the query and header parameters, and the request bodies. Body schemas come from `bridge.models.api`.
The paths must be exactly template.yaml's routes, with the API key on exactly the routes that require it.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from bridge import api_doc
from bridge.models.api import MAX_SAFE_INTEGER, REQUEST_MODELS, RESPONSE_MODELS
from local.lambda_runtime import load_function
from local.template import ROOT, Route, TemplateModel

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

DOC_PATH = ROOT / "docs" / "openapi.json"
TITLE = "AMPECO webhook bridge"
DESCRIPTION = (
    "Receives AMPECO's webhook notifications and charge points' security-log pushes, forwards session starts to"
    " the AMPECO tenant, and serves AMPECO-shaped listings of what it stored.\n\n"
    "Client routes need the usage-plan API key in `x-api-key`; webhook routes are authenticated by their"
    " signature instead, checked on the raw body (at most 256 KiB) before anything parses it; `GET /health` is"
    " open. Errors are AMPECO's `{message, errors}`; a failed tenant call is `{message, errorCode}`."
)
TAGS = [
    {"name": "Starts", "description": "Session starts, forwarded to the AMPECO tenant at most once."},
    {"name": "Sessions", "description": "Sessions from the tenant's notifications, in AMPECO's shape."},
    {"name": "Security events", "description": "The seven critical OCPP security event types, as AMPECO lists them."},
    {"name": "Webhooks", "description": "What AMPECO and the charge points push; signed, never keyed."},
    {"name": "Health", "description": "Liveness."},
]
API_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "x-api-key",
    "description": "The usage plan's API key (API Gateway answers 403 without it); `make run` prints the local one.",
}

_ID = {"type": "integer", "minimum": 1, "maximum": MAX_SAFE_INTEGER}
_ISO = {"type": "string", "format": "date-time"}
_PAGING: list[tuple[str, dict[str, Any], str]] = [
    ("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 100}, "Items per page."),
    ("cursor", {"type": "string"}, "`meta.next_cursor` of the previous page; empty asks for the first page."),
]


@dataclass(frozen=True)
class Inputs:
    """What an operation takes beyond its path: typed path parameters, query and header parameters, a body."""

    path: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    query: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    headers: list[tuple[str, dict[str, Any], str, bool]] = field(default_factory=list)
    body: dict[str, Any] | None = None
    body_required: bool = True
    responses: dict[str, Any] = field(default_factory=dict)  # ranges ("4XX"), which Powertools cannot key


def _body(*names: str) -> dict[str, Any]:
    refs = [api_doc.schema_ref(name) for name in names]
    return refs[0] if len(refs) == 1 else {"anyOf": refs}


_START = Inputs(
    headers=[
        (
            "Idempotency-Key",
            {"type": "string", "pattern": "^[!-~]{1,255}$"},
            "Optional; matched case-insensitively, scoped to the API key and path, kept one hour. A repeat with"
            " the same JSON body gets the first final answer (and attempt id) again; 409 while the first is in flight;"
            " another body with a used key is 422.",
            False,
        )
    ],
    body=_body("StartRequest"),
    body_required=False,
    responses={
        "4XX": api_doc.answer(
            "Any other 4xx the tenant answered, passed through with its body.",
            "Error",
            {"X-Bridge-Attempt-Id": {"description": "The recorded start attempt.", "schema": {"type": "string"}}},
        )
    },
)
INPUTS: dict[str, Inputs] = {
    "securityEventPush": Inputs(
        path={"chargePoint": (_ID, "The charge point, in canonical decimal: its own secret signs the push.")},
        headers=[
            ("webhook-id", {"type": "string", "minLength": 1}, "Standard Webhooks message id (the dedup key).", True),
            (
                "webhook-timestamp",
                {"type": "string", "pattern": "^[0-9]+$"},
                "Unix seconds; within `WEBHOOK_TOLERANCE_SECONDS` of now.",
                True,
            ),
            (
                "webhook-signature",
                {"type": "string", "minLength": 1},
                "`v1,<base64 HMAC-SHA256>` entries, space-separated, made with the charge point's own secret.",
                True,
            ),
        ],
        body=_body("PushedSecurityEvent", "PushedSecurityEventBatch"),
    ),
    "ampecoNotification": Inputs(
        headers=[
            (
                "X-Signature",
                {"type": "string", "minLength": 1},
                "HMAC-SHA256 of the raw body keyed with the tenant's API token, hex or base64.",
                True,
            ),
            ("X-Timestamp", {"type": "string"}, "Not part of the signed bytes: recorded, not enforced.", False),
            ("X-Tenant", {"type": "string"}, "Must equal `AMPECO_TENANT` when that is set.", False),
        ],
        body=_body(
            "SecurityEventNotification",
            "SessionUpdateNotification",
            "SessionStartStopNotification",
            "OtherNotification",
        ),
    ),
    "securityEventsListing": Inputs(
        query=[
            ("filter[type]", {"$ref": "#/components/schemas/CriticalSecurityEventType"}, "One of the seven types."),
            ("filter[chargePoint]", _ID, "The charge point."),
            ("filter[timestampFrom]", _ISO, "From this instant (with offset), inclusive."),
            ("filter[timestampTo]", _ISO, "Up to this instant (with offset), inclusive."),
            *_PAGING,
        ]
    ),
    "securityEventRead": Inputs(path={"securityEvent": (_ID, "The event's id.")}),
    "sessionsListing": Inputs(
        query=[
            ("filter[chargePointId]", _ID, "The charge point."),
            ("filter[evseId]", _ID, "The EVSE."),
            (
                "filter[status]",
                {"type": "string", "enum": ["unknown", "pending", "active", "finished", "failed", "expired"]},
                "The session's status.",
            ),
            ("filter[idTag]", {"type": "string", "minLength": 1, "maxLength": 255}, "The idTag it started with."),
            ("filter[startedAfter]", _ISO, "Started at or after this instant (with offset)."),
            ("filter[startedBefore]", _ISO, "Started at or before this instant (with offset)."),
            *_PAGING,
        ]
    ),
    "sessionRead": Inputs(path={"session": ({"type": "string", "minLength": 1, "maxLength": 64}, "The session's id.")}),
    "chargePointStartChargingSession": Inputs(
        path={
            "chargePoint": (_ID, "The charge point."),
            "evse": (_ID, "The EVSE's OCPP network id on the charge point."),
        },
        headers=_START.headers,
        body=_START.body,
        body_required=False,
        responses=_START.responses,
    ),
    "evseStartChargingWithEvseId": Inputs(
        path={"evse": (_ID, "The EVSE's id.")},
        headers=_START.headers,
        body=_START.body,
        body_required=False,
        responses=_START.responses,
    ),
    "health": Inputs(),
}


def version() -> str:
    """The project's version (pyproject.toml)."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def default_servers(template: TemplateModel) -> list[dict[str, Any]]:
    """The deployed stage (API Gateway's URL) and `make run`."""
    stage = template.raw.get("Parameters", {}).get("StageName", {}).get("Default", "v1")
    return [
        {
            "url": "https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}",
            "description": "The deployed stage",
            "variables": {
                "restApiId": {"default": "restApiId", "description": "The stack's ApiUrl output names it."},
                "region": {"default": "us-east-1"},
                "stage": {"default": str(stage)},
            },
        },
        {"url": "http://127.0.0.1:3000", "description": "`make run` (served without the stage prefix)"},
    ]


def resolvers(template: TemplateModel) -> list[APIGatewayRestResolver]:
    """The resolver (`app`) of each function with API routes, in template order; imports the handler modules, so
    the functions' environment must be set (as the local run and the tests set it)."""
    functions = dict.fromkeys(route.function for route in template.routes())
    return [load_function(template, function).app for function in functions]


def document(template: TemplateModel, servers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The whole document for template.yaml's API, from the handlers' own resolvers."""
    return build(resolvers(template), template.routes(), servers or default_servers(template))


def build(apps: Iterable[APIGatewayRestResolver], routes: list[Route], servers: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge the resolvers' documents, complete each operation, add the body schemas; checked against `routes`."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey

    merged: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for app in apps:
        part = app.get_openapi_schema(
            title=TITLE, version=version(), security_schemes={api_doc.API_KEY: APIKey.model_validate(API_KEY_SCHEME)}
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        for path, item in part["paths"].items():
            merged.setdefault(path, {}).update(item)
        schemas.update(part.get("components", {}).get("schemas", {}))
    paths = _in_route_order(merged, routes)
    for item in paths.values():
        for operation in item.values():
            inputs = INPUTS.get(operation["operationId"])
            if inputs is None:
                raise ValueError(f"{operation['operationId']}: describe what it takes in INPUTS (local/openapi_doc.py)")
            _complete(operation, inputs)
    schemas.update(_model_schemas())
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version(), "description": DESCRIPTION},
        "servers": servers,
        "tags": TAGS,
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {api_doc.API_KEY: API_KEY_SCHEME}},
    }
    _keep_referenced_schemas(doc)
    _check_references(doc)
    return doc


def _in_route_order(paths: dict[str, dict[str, Any]], routes: list[Route]) -> dict[str, dict[str, Any]]:
    """The template's routes, in its order; anything else, or a route missing, or a key out of place, is an error."""
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    declared = {(route.method, route.path) for route in routes}
    if documented != declared:
        raise ValueError(
            f"the handlers' routes differ from template.yaml's: only in the handlers {sorted(documented - declared)},"
            f" only in the template {sorted(declared - documented)}"
        )
    ordered: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation = paths[route.path][route.method.lower()]
        if bool(operation.get("security")) != route.api_key_required:
            raise ValueError(
                f"{route.method} {route.path}: security {operation.get('security')} but the template says"
                f" ApiKeyRequired={route.api_key_required}"
            )
        ordered.setdefault(route.path, {})[route.method.lower()] = operation
    return ordered


def _complete(operation: dict[str, Any], inputs: Inputs) -> None:
    """Typed path parameters, then query and header parameters, the request body and range responses."""
    parameters = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            if parameter["name"] not in inputs.path:
                raise ValueError(f"{operation['operationId']}: describe path parameter {parameter['name']} in INPUTS")
            schema, description = inputs.path[parameter["name"]]
            parameter = {"name": parameter["name"], "in": "path", "required": True, "description": description,
                         "schema": schema}  # fmt: skip
        parameters.append(parameter)
    missing = set(inputs.path) - {p["name"] for p in parameters if p["in"] == "path"}
    if missing:
        raise ValueError(f"{operation['operationId']}: no path parameter {sorted(missing)} in its route")
    parameters += [{"name": n, "in": "query", "description": d, "schema": s} for n, s, d in inputs.query]
    parameters += [
        {"name": n, "in": "header", "required": r, "description": d, "schema": s} for n, s, d, r in inputs.headers
    ]
    if parameters:
        operation["parameters"] = parameters
    if inputs.body is not None:
        operation["requestBody"] = {
            "required": inputs.body_required,
            "content": {"application/json": {"schema": inputs.body}},
        }
    operation["responses"] = dict(sorted({**operation["responses"], **inputs.responses}.items()))
    # A reader's order: what it is, what it takes, what it answers.
    order = ["tags", "summary", "description", "operationId", "security", "parameters", "requestBody", "responses"]
    reordered = {key: operation.pop(key) for key in order if key in operation} | operation
    operation.clear()
    operation.update(reordered)


def _model_schemas() -> dict[str, Any]:
    """The request and response models as component schemas (validation and serialization forms)."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(model, "validation") for model in REQUEST_MODELS]
    models += [(model, "serialization") for model in RESPONSE_MODELS]
    _, found = models_json_schema(models, ref_template="#/components/schemas/{model}")
    return {name: _tidy(schema) for name, schema in found.get("$defs", {}).items()}


def _tidy(schema: Any) -> Any:
    """Without pydantic's generated property titles ("Chargepointid") and null defaults: noise to a reader."""
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tidy = {key: _tidy(value) for key, value in schema.items() if not (key == "default" and value is None)}
    if isinstance(tidy.get("properties"), dict):
        tidy["properties"] = {name: _untitled(value) for name, value in tidy["properties"].items()}
    return tidy


def _untitled(schema: Any) -> Any:
    return {k: v for k, v in schema.items() if k != "title"} if isinstance(schema, dict) else schema


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _keep_referenced_schemas(doc: dict[str, Any]) -> None:
    """Drop component schemas nothing refers to (Powertools always adds its validation error shapes)."""
    schemas = doc["components"]["schemas"]
    prefix = "#/components/schemas/"
    used: set[str] = set()
    pending = [name.removeprefix(prefix) for name in _refs(doc["paths"])]
    while pending:
        name = pending.pop()
        if name in used or name not in schemas:
            continue
        used.add(name)
        pending += [ref.removeprefix(prefix) for ref in _refs(schemas[name])]
    doc["components"]["schemas"] = {name: schemas[name] for name in sorted(used)}


def _check_references(doc: dict[str, Any]) -> None:
    prefix = "#/components/schemas/"
    unknown = sorted({ref for ref in _refs(doc) if ref.removeprefix(prefix) not in doc["components"]["schemas"]})
    if unknown:
        raise ValueError(f"references to schemas the document does not have: {unknown}")


def render(doc: dict[str, Any]) -> str:
    """The document as committed: indented JSON, one trailing newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, Any]:
    """The document, built in-process from the handlers with in-memory AWS (no network, nothing deployed)."""
    from local.aws import in_memory_aws, set_fake_environment
    from local.lambda_runtime import apply_environment
    from local.stack import Stack
    from local.template import load_template

    set_fake_environment()
    with in_memory_aws():
        stack = Stack.create()
        apply_environment(stack)
        return document(TemplateModel(load_template()))


def main(argv: list[str] | None = None) -> int:
    out = Path((argv or sys.argv[1:] or [str(DOC_PATH)])[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(generate()), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
