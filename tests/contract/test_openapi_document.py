"""docs/openapi.json is what the handlers' routes generate, and it says what the contract says."""

from __future__ import annotations

import difflib
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from local.openapi_doc import DOC_PATH, document, render
from tests.contract.schemas import example, example_files
from tests.harness import Bridge

CONTRACT_PATHS = {
    ("POST", "/public-api/actions/charge-point/v1.0/{chargePoint}/start/{evse}"),
    ("POST", "/public-api/actions/evse/v1.0/{evse}/start"),
    ("GET", "/public-api/resources/sessions/v1.0"),
    ("GET", "/public-api/resources/sessions/v1.0/{session}"),
    ("GET", "/public-api/resources/security-events/v2.0"),
    ("GET", "/public-api/resources/security-events/v2.0/{securityEvent}"),
    ("POST", "/webhooks/ampeco"),
    ("POST", "/webhooks/charge-points/{chargePoint}/security-events"),
    ("GET", "/health"),
}


# The contract's examples (tests/contract/examples/) and the document's schema each must satisfy.
EXAMPLE_SCHEMAS = {
    "error": "Error",
    "upstream_error": "UpstreamError",
    "start_response_202": "StartAccepted",
    "start_request": "StartRequest",
    "security_event": "SecurityEvent",
    "security_event_read": "SecurityEventRead",
    "security_events_listing": "SecurityEventsListing",
    "session": "Session",
    "session_read": "SessionRead",
    "sessions_listing": "SessionsListing",
    "notification_security_event": "SecurityEventNotification",
    "notification_session_update": "SessionUpdateNotification",
    "notification_session_start_stop": "SessionStartStopNotification",
    "notification_session_start_stop_deprecated": "SessionStartStopNotification",
}


def committed() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    return loaded


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method.upper(), path): op for path, item in doc["paths"].items() for method, op in item.items()}


def test_the_committed_document_is_what_the_handlers_generate(bridge: Bridge) -> None:
    # Given the handlers as the functions import them (the bridge fixture sets their environment)
    generated = render(document(bridge.stack.template))
    # Then the committed file is byte for byte the same
    current = DOC_PATH.read_text(encoding="utf-8")
    if generated != current:
        diff = difflib.unified_diff(
            current.splitlines(), generated.splitlines(), "docs/openapi.json (committed)", "generated", lineterm="", n=2
        )
        shown = "\n".join(list(diff)[:60])
        raise AssertionError(f"docs/openapi.json is stale: run `make openapi` and commit it.\n{shown}")


def test_the_document_is_valid_openapi_3_1() -> None:
    # openapi-spec-validator comes with moto[server]
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    doc = committed()
    assert doc["openapi"] == "3.1.0"
    validate(doc, cls=OpenAPIV31SpecValidator)


def test_the_document_has_exactly_the_contract_paths_with_the_key_on_client_routes() -> None:
    found = operations(committed())
    assert set(found) == CONTRACT_PATHS
    for (method, path), operation in found.items():
        keyed = path.startswith("/public-api/")
        assert bool(operation.get("security")) == keyed, (method, path)
        if path.startswith("/webhooks/"):
            headers = {p["name"].lower() for p in operation["parameters"] if p["in"] == "header" and p["required"]}
            assert headers & {"x-signature", "webhook-signature"}, (method, path)


def test_every_error_is_declared_in_ampecos_format_with_retry_after_on_503() -> None:
    for (method, path), operation in operations(committed()).items():
        responses = operation["responses"]
        starts = "/start" in path
        for status, declared in responses.items():
            if status.startswith(("4", "5")):
                schema = declared["content"]["application/json"]["schema"]["$ref"]
                assert schema.endswith("/UpstreamError" if status in ("502", "504") else "/Error"), (path, status)
        assert {"409", "502", "504"} <= set(responses) if starts else not {"409", "502", "504"} & set(responses)
        if "503" in responses:
            assert responses["503"]["headers"]["Retry-After"]["required"] is True, (method, path)
        if path != "/health":
            assert {"405", "413", "429", "503"} <= set(responses), (method, path)


@pytest.mark.parametrize("key", sorted(k for k in example_files() if k.split(".")[0] in EXAMPLE_SCHEMAS))
def test_every_contract_example_fits_the_documents_schema(key: str) -> None:
    name, _, variant = key.partition(".")
    component = EXAMPLE_SCHEMAS[name]
    root = {"$ref": f"#/components/schemas/{component}", "components": committed()["components"]}
    problems = [
        f"{e.json_path}: {e.message}"
        for e in Draft202012Validator(root, format_checker=FormatChecker()).iter_errors(example(name, variant or None))
    ]
    assert not problems, f"{key} against {component}:\n" + "\n".join(problems)


def _without(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != field}


@pytest.mark.parametrize(
    ("component", "body"),
    [
        ("Session", _without(example("session"), "randomisedDelay")),
        ("Session", {**example("session"), "id": 987654}),
        ("Session", {**example("session"), "surprise": 1}),
        ("SecurityEvent", {**example("security_event"), "type": "Heartbeat"}),
        ("SecurityEvent", {**example("security_event"), "id": 2**53}),
        ("SecurityEventsListing", {**example("security_events_listing"), "links": {}}),
        ("Error", {"message": ""}),
        ("Error", {"message": "x", "errors": {"field": []}}),
        ("UpstreamError", {"message": "x", "errorCode": "SOMETHING_ELSE"}),
    ],
)
def test_the_documents_schemas_are_as_strict_as_the_contracts(component: str, body: dict[str, Any]) -> None:
    root = {"$ref": f"#/components/schemas/{component}", "components": committed()["components"]}
    assert list(Draft202012Validator(root).iter_errors(body)), f"{component} accepted {json.dumps(body)[:300]}"
