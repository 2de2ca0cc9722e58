"""The start-attempts table: pending before the tenant call, final after it, swept when stuck.

A pending attempt carries `pendingKey`, the sparse GSI `byPending`'s partition key, so the sweeper reads
only pending attempts; completing an attempt removes it. Completion is conditional on the attempt still
being pending, so the first final result wins and the stream shows exactly one pending→final change,
which is what the relay publishes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bridge.models.common import iso_instant
from bridge.models.starts import Attempt, Outcome, StartPath, StartTarget
from bridge.storage.dynamo import Table, error_code, storage_errors

PENDING = "PENDING"


class AttemptConflict(Exception):
    """The attempt is not pending any more (another path finalised it first)."""


class AttemptTable(Table):
    """Reads and writes of the attempts table."""

    def create(self, attempt: Attempt) -> None:
        """Store a new pending attempt."""
        item = to_item(attempt_to_plain(attempt))
        item["pendingKey"] = {"S": PENDING}
        with storage_errors():
            self.client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(attemptId)"
            )

    def complete(self, attempt: Attempt) -> None:
        """Record the result of a pending attempt; AttemptConflict when it is final already."""
        from botocore.exceptions import ClientError

        plain = attempt_to_plain(attempt)
        result = {k: v for k, v in plain.items() if k not in _IMMUTABLE and v is not None}
        names = {f"#{k}": k for k in result}
        values = {f":{k}": to_value(v) for k, v in result.items()}
        names["#status"] = "status"
        values[":pending"] = {"S": "pending"}
        assignments = ", ".join(f"#{k} = :{k}" for k in result)
        with storage_errors():
            try:
                self.client.update_item(
                    TableName=self._table,
                    Key={"attemptId": {"S": attempt.attempt_id}},
                    UpdateExpression=f"SET {assignments} REMOVE pendingKey",
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise AttemptConflict(attempt.attempt_id) from exc
                raise

    def get(self, attempt_id: str) -> Attempt | None:
        """An attempt by id."""
        with storage_errors():
            item = self.client.get_item(TableName=self._table, Key={"attemptId": {"S": attempt_id}}).get("Item")
        return attempt_from_plain(from_item(item)) if item else None

    def pending_since(self, before: datetime, limit: int = 100) -> list[Attempt]:
        """Pending attempts created before `before`, oldest first: one Query on the sparse index."""
        with storage_errors():
            items = self.client.query(
                TableName=self._table,
                IndexName="byPending",
                KeyConditionExpression="pendingKey = :p AND createdAt < :before",
                ExpressionAttributeValues={":p": {"S": PENDING}, ":before": {"S": iso_instant(before)}},
                Limit=limit,
            ).get("Items", [])
        return [attempt_from_plain(from_item(item)) for item in items]


_IMMUTABLE = {"attemptId", "path", "chargePoint", "evseNetworkId", "evseId", "request", "requestTruncated", "createdAt"}


# ---------------------------------------------------------------------- mapping
def attempt_to_plain(attempt: Attempt) -> dict[str, Any]:
    """An attempt as plain JSON values: the stored item's and the deferred message's shape."""
    return {
        "attemptId": attempt.attempt_id,
        "kind": "startAttempt",
        "status": "final" if attempt.final else "pending",
        "path": attempt.target.path.value,
        "chargePoint": attempt.target.charge_point,
        "evseNetworkId": attempt.target.evse_network_id,
        "evseId": attempt.target.evse_id,
        "request": attempt.request_body,
        "requestTruncated": attempt.request_truncated,
        "createdAt": iso_instant(attempt.created_at),
        "idempotencyKey": attempt.idempotency_key,
        "outcome": attempt.outcome.value if attempt.outcome else None,
        "errorCode": attempt.error_code,
        "tenantStatus": attempt.tenant_status,
        "tenantBody": attempt.tenant_body,
        "tenantBodyTruncated": attempt.tenant_body_truncated,
        "sessionId": attempt.session_id,
        "authorizationId": attempt.authorization_id,
        "durationMs": attempt.duration_ms,
        "completedAt": iso_instant(attempt.completed_at) if attempt.completed_at else None,
    }


def attempt_from_plain(plain: dict[str, Any]) -> Attempt:
    """The inverse of attempt_to_plain (numbers may arrive as Decimal)."""

    def number(name: str) -> int | None:
        value = plain.get(name)
        return None if value is None else int(value)

    def when(name: str) -> datetime | None:
        value = plain.get(name)
        return None if value is None else datetime.fromisoformat(str(value))

    created = when("createdAt")
    assert created is not None
    return Attempt(
        attempt_id=str(plain["attemptId"]),
        target=StartTarget(
            StartPath(plain["path"]),
            charge_point=number("chargePoint"),
            evse_network_id=number("evseNetworkId"),
            evse_id=number("evseId"),
        ),
        request_body=str(plain.get("request", "")),
        request_truncated=bool(plain.get("requestTruncated", False)),
        created_at=created,
        idempotency_key=plain.get("idempotencyKey"),
        outcome=Outcome(plain["outcome"]) if plain.get("outcome") else None,
        error_code=plain.get("errorCode"),
        tenant_status=number("tenantStatus"),
        tenant_body=plain.get("tenantBody"),
        tenant_body_truncated=bool(plain.get("tenantBodyTruncated", False)),
        session_id=plain.get("sessionId"),
        authorization_id=plain.get("authorizationId"),
        duration_ms=number("durationMs"),
        completed_at=when("completedAt"),
    )


def attempt_to_json(attempt: Attempt) -> str:
    """For the deferred-completion queue."""
    return json.dumps(attempt_to_plain(attempt), separators=(",", ":"))


def to_value(value: Any) -> dict[str, Any]:
    """One plain value as a DynamoDB attribute value."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    return {"S": str(value)}


def to_item(plain: dict[str, Any]) -> dict[str, Any]:
    """Plain values as an item; None values are left out."""
    return {key: to_value(value) for key, value in plain.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item's S, N and BOOL attributes as plain values."""
    plain: dict[str, Any] = {}
    for key, value in item.items():
        if "S" in value:
            plain[key] = value["S"]
        elif "N" in value:
            plain[key] = int(value["N"])
        elif "BOOL" in value:
            plain[key] = value["BOOL"]
    return plain
