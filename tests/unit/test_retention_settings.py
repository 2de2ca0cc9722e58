"""Retention settings: read once at cold start, refused outside their range with the variable named."""

from __future__ import annotations

import pytest

from bridge.settings import ReconcilerSettings, StartSettings, WebhookSettings

START_ENV = {
    "ATTEMPTS_TABLE": "a",
    "IDEMPOTENCY_TABLE": "i",
    "COMPLETIONS_QUEUE_URL": "https://sqs/q",
    "AMPECO_BASE_URL": "https://tenant.example",
    "AMPECO_API_TOKEN_ARN": "t",
}
WEBHOOK_ENV = {
    "SECURITY_EVENTS_TABLE": "e",
    "SESSIONS_TABLE": "s",
    "SESSION_LISTING_TABLE": "l",
    "ATTEMPTS_TABLE": "a",
    "WEBHOOK_SECRET_ARN": "w",
    "AMPECO_API_TOKEN_ARN": "t",
}
RECONCILER_ENV = {**WEBHOOK_ENV, "RECONCILE_TABLE": "r", "AMPECO_BASE_URL": "https://tenant.example"}
NOTIFICATION_MODELS = [(WebhookSettings, WEBHOOK_ENV), (ReconcilerSettings, RECONCILER_ENV)]


def test_attempts_are_kept_forever_unless_a_retention_is_set() -> None:
    assert StartSettings.from_env(START_ENV).attempt_retention_days == 0
    for days in ("0", "1", "400", "3650"):
        assert StartSettings.from_env({**START_ENV, "ATTEMPT_RETENTION_DAYS": days}).attempt_retention_days == int(days)


@pytest.mark.parametrize("days", ["-1", "3651", "1.5", "a year", ""])
def test_an_attempt_retention_outside_0_to_3650_days_is_refused(days: str) -> None:
    with pytest.raises(RuntimeError, match="ATTEMPT_RETENTION_DAYS"):
        StartSettings.from_env({**START_ENV, "ATTEMPT_RETENTION_DAYS": days})


@pytest.mark.parametrize(("model", "env"), NOTIFICATION_MODELS)
def test_notification_records_are_kept_30_days_unless_configured_longer(model: type, env: dict[str, str]) -> None:
    assert model.from_env(env).notification_retention_days == 30  # type: ignore[attr-defined]
    for days in ("30", "90", "3650"):
        configured = model.from_env({**env, "NOTIFICATION_RETENTION_DAYS": days})  # type: ignore[attr-defined]
        assert configured.notification_retention_days == int(days)


@pytest.mark.parametrize(("model", "env"), NOTIFICATION_MODELS)
@pytest.mark.parametrize("days", ["29", "0", "3651", "forever"])
def test_a_notification_retention_below_ampecos_30_day_redelivery_window_is_refused(
    model: type, env: dict[str, str], days: str
) -> None:
    # AMPECO redeliveries are deduplicated for 30 days: a shorter retention would store a redelivery twice.
    with pytest.raises(RuntimeError, match="NOTIFICATION_RETENTION_DAYS"):
        model.from_env({**env, "NOTIFICATION_RETENTION_DAYS": days})  # type: ignore[attr-defined]
