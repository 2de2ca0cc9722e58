"""Retention: what the functions write expires when the template's retention parameters say, read through settings.

Each test builds the stack from template.yaml in moto with the retention parameters given, puts the function's
environment (as Lambda would see it) in place, wires the function as its handler does, and writes through it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from bridge import wiring
from bridge.models.notifications import Delivery, NotificationStatus
from bridge.models.starts import Attempt, StartPath, StartTarget
from local.aws import REGION, in_memory_aws
from local.stack import Stack

RECEIVED = datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`deploy(function, **parameters)`: the stack with those parameters, and the function's environment set."""
    wiring.reset()

    def deploy(function: str, **parameters: Any) -> Stack:
        stack = Stack.create(parameters=parameters)
        for key, value in stack.function_environment(function).items():
            monkeypatch.setenv(key, value)
        wiring.reset()
        return stack

    with in_memory_aws():
        yield deploy
    wiring.reset()


def item(stack: Stack, table: str, key: dict[str, Any]) -> dict[str, Any]:
    found = boto3.client("dynamodb", region_name=REGION).get_item(TableName=stack.refs[table], Key=key)["Item"]
    assert isinstance(found, dict)
    return found


def attempt() -> Attempt:
    return Attempt(
        attempt_id="a-1",
        target=StartTarget(StartPath.EVSE, evse_id=3),
        request_body="{}",
        request_truncated=False,
        created_at=RECEIVED,
    )


def delivery(body: bytes) -> Delivery:
    return Delivery(body=body, fingerprint=body.hex(), received_at=RECEIVED, signed_at=None, tenant=None)


# ---------------------------------------------------------------------- attempts
def test_the_attempts_table_expires_items_on_expires_at(deployed: Any) -> None:
    stack = deployed("StartsFunction")
    ttl = boto3.client("dynamodb", region_name=REGION).describe_time_to_live(TableName=stack.refs["AttemptsTable"])
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}


@pytest.mark.parametrize("days", [1, 400, 3650])
def test_an_attempt_expires_the_configured_days_after_it_was_created(deployed: Any, days: int) -> None:
    stack = deployed("StartsFunction", AttemptRetentionDays=days)
    deps = wiring.starts()
    assert deps.settings.attempt_retention_days == days
    deps.attempts.create(attempt())
    stored = item(stack, "AttemptsTable", {"attemptId": {"S": "a-1"}})
    assert int(stored["expiresAt"]["N"]) == int((RECEIVED + timedelta(days=days)).timestamp())


def test_by_default_attempts_are_kept_forever(deployed: Any) -> None:
    stack = deployed("StartsFunction")
    deps = wiring.starts()
    assert deps.settings.attempt_retention_days == 0
    deps.attempts.create(attempt())
    assert "expiresAt" not in item(stack, "AttemptsTable", {"attemptId": {"S": "a-1"}})


def test_a_result_does_not_move_an_attempts_expiry(deployed: Any) -> None:
    stack = deployed("StartsFunction", AttemptRetentionDays=7)
    deps = wiring.starts()
    pending = attempt()
    deps.attempts.create(pending)
    from bridge.models.starts import AttemptState, Outcome

    deps.attempts.complete(
        pending.completed(
            state=AttemptState.FINAL, outcome=Outcome.STARTED, revision=1, completed_at=RECEIVED + timedelta(days=2)
        )
    )
    stored = item(stack, "AttemptsTable", {"attemptId": {"S": "a-1"}})
    assert stored["status"]["S"] == "final"
    assert int(stored["expiresAt"]["N"]) == int((RECEIVED + timedelta(days=7)).timestamp())


# ---------------------------------------------------------------------- notification records
def notification_expiry(stack: Stack, record_body: bytes) -> int:
    stored = item(stack, "SecurityEventsTable", {"pk": {"S": "NOTIF#" + record_body.hex()}, "sk": {"N": "0"}})
    return int(stored["expiresAt"]["N"])


@pytest.mark.parametrize("function", ["WebhooksFunction", "ReconcilerFunction"])
@pytest.mark.parametrize("days", [None, 30, 90])
def test_notification_records_expire_after_the_configured_days(deployed: Any, function: str, days: int | None) -> None:
    stack = deployed(function, **({} if days is None else {"NotificationRetentionDays": days}))
    deps = wiring.webhooks() if function == "WebhooksFunction" else wiring.reconciler()
    assert deps.settings.notification_retention_days == (days or 30)
    expected = int((RECEIVED + timedelta(days=days or 30)).timestamp())

    # A record beside security events (the events table's own write) ...
    unusable = delivery(b"security")
    deps.events.insert([], unusable.record("SecurityEventNotification", NotificationStatus.QUARANTINED, "test"))
    assert notification_expiry(stack, b"security") == expected
    # ... and one written with a session change (the sessions table's transaction), in the same table.
    session = delivery(b"session")
    deps.sessions.save(None, None, session.record("SessionUpdateNotification", NotificationStatus.UNHANDLED))
    assert notification_expiry(stack, b"session") == expected
