"""Settings fail loudly at cold start when the environment is wrong."""

from __future__ import annotations

import pytest

from bridge.settings import StartSettings, WebhookSettings

START_ENV = {
    "ATTEMPTS_TABLE": "a",
    "IDEMPOTENCY_TABLE": "i",
    "COMPLETIONS_QUEUE_URL": "https://sqs/q",
    "AMPECO_BASE_URL": "https://tenant.example",
    "AMPECO_API_TOKEN_ARN": "t",
}


@pytest.mark.parametrize("timeout", ["25.5", "26", "0", "-1", "soon"])
def test_a_tenant_deadline_outside_0_to_25_seconds_is_refused(timeout: str) -> None:
    with pytest.raises(RuntimeError, match="AMPECO_TIMEOUT_SECONDS"):
        StartSettings.from_env({**START_ENV, "AMPECO_TIMEOUT_SECONDS": timeout})


def test_the_default_deadline_is_ten_seconds_and_25_is_allowed() -> None:
    assert StartSettings.from_env(START_ENV).ampeco_timeout_seconds == 10
    assert StartSettings.from_env({**START_ENV, "AMPECO_TIMEOUT_SECONDS": "25"}).ampeco_timeout_seconds == 25


def test_a_missing_variable_is_named() -> None:
    with pytest.raises(RuntimeError, match="SECURITY_EVENTS_TABLE"):
        WebhookSettings.from_env({})


def test_a_base_url_must_be_http() -> None:
    with pytest.raises(RuntimeError, match="AMPECO_BASE_URL"):
        StartSettings.from_env({**START_ENV, "AMPECO_BASE_URL": "tenant.example"})
