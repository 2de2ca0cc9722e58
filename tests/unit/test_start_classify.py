"""The tenant's answer to a start, classified: only AMPECO's shape, in strict JSON, is a result."""

from __future__ import annotations

import pytest

from bridge.models.starts import Outcome
from bridge.starts import classify


@pytest.mark.parametrize("session_id", ["NaN", "Infinity", "1e400"])
def test_a_202_whose_ids_are_not_json_numbers_is_an_invalid_response(session_id: str) -> None:
    body = f'{{"success": true, "sessionId": {session_id}, "authorizationId": 1}}'.encode()
    result, answer = classify(202, body, None, "a-1")
    assert (result["outcome"], result["error_code"]) == (Outcome.FAILED, "UPSTREAM_INVALID_RESPONSE")
    assert answer.status == 502


def test_a_202_in_ampecos_shape_is_started_with_the_ids_as_strings() -> None:
    result, answer = classify(202, b'{"success": true, "sessionId": 42, "authorizationId": 7}', None, "a-1")
    assert (result["outcome"], result["session_id"], result["authorization_id"]) == (Outcome.STARTED, "42", "7")
    assert answer.status == 202
