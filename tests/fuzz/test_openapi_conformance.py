"""schemathesis against docs/openapi.json: every operation's generated requests through the real handlers.

For each operation, schemathesis generates requests from the document (its examples, coverage and fuzzing
phases; valid and invalid inputs), `openapi_client` keys and signs them as a legitimate caller would, and each
answer must be: never a 5xx, a status the document declares for that operation, a body (JSON) and required
headers as the document declares them. The read operations run against a bridge holding a few events and
sessions, so listings and reads carry real items. `make test` runs a few examples per operation
(`bridge-ci`, a fixed seed); `make fuzz` many more, random each run.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.openapi_doc import DOC_PATH
from tests.contract.schemas import example
from tests.fuzz.budget import profile
from tests.fuzz.openapi_client import wsgi_bridge
from tests.fuzz.tally import TALLY
from tests.harness import Bridge, security_event

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# A few examples per operation in `make test` (13: about 12 s for the nine on one core); `make fuzz` 150 each.
EXAMPLES = max(5, profile().max_examples // 10)
CI = profile().derandomize
CONFIG = schemathesis.Config.from_dict(
    {
        **({"seed": 20261130} if CI else {}),  # `make test` sends the same requests every run
        "generation": {"max-examples": EXAMPLES, "deterministic": CI},
        # The coverage phase enumerates every boundary of every parameter: `make fuzz` only.
        "phases": {"coverage": {"enabled": not CI}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_path(str(DOC_PATH), config=CONFIG)


@pytest.fixture
def documented_bridge(bridge: Bridge) -> Bridge:
    """The bridge with a few security events and sessions stored, so reads and listings have items to serve."""
    for offset, event_type in enumerate(("FirmwareUpdated", "TamperDetectionActivated", "ResetOrReboot")):
        event = security_event(event_type, f"2026-11-2{offset}T10:00:00.123456+01:00", tech_info=f"seed {offset}")
        assert bridge.push(1187 + offset, event).status == 202
    for name, variant in (
        ("notification_session_update", None),
        ("notification_session_update", "without_randomised_delay"),
        ("notification_session_start_stop", None),
        ("notification_session_start_stop", "stop"),
        ("notification_security_event", None),
    ):
        assert bridge.notify(example(name, variant)).status == 202
    return bridge


@schema.parametrize()
@settings(profile(), max_examples=EXAMPLES)
def test_every_answer_is_one_the_document_declares(case: schemathesis.Case, documented_bridge: Bridge) -> None:
    response = case.call(base_url="http://bridge.example.com", app=wsgi_bridge(documented_bridge))
    TALLY.add(f"{case.method} {case.path}", f"schemathesis/{_mode(case)}", response.status_code)
    case.validate_response(response, checks=CHECKS)
    assert "Traceback" not in response.text


def _mode(case: schemathesis.Case) -> str:
    meta: Any = getattr(case, "meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", None)
    return str(getattr(mode, "value", mode or "generated"))


def test_the_document_is_valid_for_schemathesis() -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(json.loads(DOC_PATH.read_text())["paths"]) == 9
