"""A function refusing its settings at cold start says so in one line: each setting, its value, what is allowed."""

from __future__ import annotations

import pytest

from bridge.settings import FinaliserSettings, RelaySettings, StartSettings, WebhookSettings

Model = type[StartSettings] | type[WebhookSettings] | type[RelaySettings] | type[FinaliserSettings]

START_ENV = {
    "ATTEMPTS_TABLE": "a",
    "IDEMPOTENCY_TABLE": "i",
    "COMPLETIONS_QUEUE_URL": "https://sqs/q",
    "AMPECO_BASE_URL": "https://tenant.example",
    "AMPECO_API_TOKEN_ARN": "t",
}
WEBHOOK_ENV = {
    "SECURITY_EVENTS_TABLE": "s",
    "SESSIONS_TABLE": "n",
    "SESSION_LISTING_TABLE": "l",
    "ATTEMPTS_TABLE": "a",
    "WEBHOOK_SECRET_ARN": "w",
    "AMPECO_API_TOKEN_ARN": "t",
}


def refusal(model: Model, env: dict[str, str]) -> str:
    with pytest.raises(RuntimeError) as refused:
        model.from_env(env)
    return str(refused.value)


@pytest.mark.parametrize("value", ["100", "25.5", "0", "-1", "soon"])
def test_a_tenant_deadline_out_of_range_is_one_line_with_the_value_and_the_range(value: str) -> None:
    message = refusal(StartSettings, {**START_ENV, "AMPECO_TIMEOUT_SECONDS": value})

    assert message == (
        "invalid configuration for StartSettings:"
        f" AMPECO_TIMEOUT_SECONDS={value!r} is not allowed: a number greater than 0 and at most 25"
    )


@pytest.mark.parametrize(
    ("model", "env", "line"),
    [
        (
            WebhookSettings,
            {**WEBHOOK_ENV, "WEBHOOK_TOLERANCE_SECONDS": "1.5"},
            "WEBHOOK_TOLERANCE_SECONDS='1.5' is not allowed: an integer from 1 to 3600",
        ),
        (
            RelaySettings,
            {
                "SECURITY_EVENTS_TOPIC_ARN": "s",
                "START_RESULTS_TOPIC_ARN": "r",
                "UNDELIVERED_TABLE": "u",
                "RELAY_GIVE_UP_SECONDS": "-1",
            },
            "RELAY_GIVE_UP_SECONDS='-1' is not allowed: an integer from 0 to 3600",
        ),
        (
            FinaliserSettings,
            {"ATTEMPTS_TABLE": "a", "STUCK_AFTER_SECONDS": "0"},
            "STUCK_AFTER_SECONDS='0' is not allowed: an integer of at least 1",
        ),
        (
            StartSettings,
            {**START_ENV, "AMPECO_BASE_URL": "tenant.example"},
            r"AMPECO_BASE_URL='tenant.example' is not allowed: a value matching ^https?://[^\s/]+",
        ),
        (StartSettings, {**START_ENV, "ATTEMPTS_TABLE": ""}, "ATTEMPTS_TABLE='' is not allowed: a non-empty value"),
        (
            FinaliserSettings,
            {},
            "ATTEMPTS_TABLE is not set: a non-empty value is required",
        ),
    ],
)
def test_each_refusal_names_the_setting_the_value_and_what_is_allowed(
    model: Model, env: dict[str, str], line: str
) -> None:
    assert refusal(model, env) == f"invalid configuration for {model.__name__}: {line}"


def test_several_refusals_stay_on_one_line() -> None:
    message = refusal(WebhookSettings, {"WEBHOOK_TOLERANCE_SECONDS": "0"})

    assert "\n" not in message
    assert message.startswith("invalid configuration for WebhookSettings: SECURITY_EVENTS_TABLE is not set: ")
    assert message.endswith("; WEBHOOK_TOLERANCE_SECONDS='0' is not allowed: an integer from 1 to 3600")
    assert "errors.pydantic.dev" not in message
