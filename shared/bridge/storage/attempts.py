"""The start-attempts table and the Idempotency-Key claims beside it.

An attempt is stored `pending` before the tenant call (with its key's claim, in one transaction, when the
request has an Idempotency-Key) and made `final` after it. A pending attempt carries `pendingKey`, the sparse
GSI `byPending`'s partition key, so the sweeper reads only pending attempts; a final one carries
`completedDay`/`completedAt` for `byCompleted`, the replay's index. Every attempt carries `targetKey`
(`CP#<chargePoint>` or `EVSE#<evseId>`) for `byTarget`, sorted by `createdAt`: the starts asked for one place
in a time window, which the resolution of ambiguous starts reads (a handful per window) and operators list.
Every write is conditional on the state it
expects, so repeating a write whose answer was lost is safe: it either lands now or finds it landed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.models.common import iso_instant
from bridge.models.starts import Attempt, AttemptState, Outcome, StartAnswer, StartPath, StartTarget
from bridge.storage.dynamo import (
    Table,
    TransactionCancelled,
    error_code,
    query_items,
    storage_errors,
    transact_write,
)

PENDING = "PENDING"
_RESULT_FIELDS = (
    "outcome",
    "errorCode",
    "tenantStatus",
    "tenantBody",
    "tenantBodyTruncated",
    "sessionId",
    "authorizationId",
    "durationMs",
    "completedAt",
    "answerStatus",
    "answerBody",
    "answerRetryAfter",
    "revision",
    "corrects",
    "completedDay",
)


class AttemptConflict(Exception):
    """The attempt is not in the state the write expected; `current` is how it is stored (None: absent)."""

    def __init__(self, attempt_id: str, current: Attempt | None) -> None:
        super().__init__(attempt_id)
        self.current = current


@dataclass(frozen=True)
class KeyClaim:
    """An Idempotency-Key bound to the attempt started for it, for an hour."""

    key_id: str  # a hash of the key's scope (API key, path, key)
    body_hash: str  # a hash of the canonical JSON body: equal JSON, not equal bytes
    expires_at: int  # epoch seconds
    taking_over: str | None = None  # the attempt whose released claim this one replaces


class KeyHeld(Exception):
    """Another attempt holds the key."""

    def __init__(self, attempt_id: str, body_hash: str) -> None:
        super().__init__(attempt_id)
        self.attempt_id = attempt_id
        self.body_hash = body_hash


class AttemptTable(Table):
    """Reads and writes of the attempts table and the key claims table."""

    def __init__(self, table_name: str, keys_table: str = "", client: Any = None, retention_days: int = 0) -> None:
        super().__init__(table_name, client)
        self._keys = keys_table
        self._retention_days = retention_days  # 0: attempts are kept forever (no `expiresAt`)

    def create(self, attempt: Attempt, claim: KeyClaim | None = None, *, now: int = 0) -> None:
        """Store a new pending attempt, with its key's claim when given; KeyHeld when another attempt has it.

        Repeating a create whose answer was lost finds its own attempt (or claim) and returns quietly.
        """
        from botocore.exceptions import ClientError

        item = to_item(attempt_to_plain(attempt))
        item["pendingKey"] = {"S": PENDING}
        if self._retention_days:  # the table's TTL attribute, set once: results never move it
            expires = int(attempt.created_at.timestamp()) + self._retention_days * 86400
            item["expiresAt"] = {"N": str(expires)}
        attempt_put = {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(attemptId)",
        }
        with storage_errors():
            if claim is None:
                try:
                    self.client.put_item(**attempt_put)
                except ClientError as exc:
                    if error_code(exc) != "ConditionalCheckFailedException":
                        raise
                    # The key is the attempt's own id: it is there because an earlier try landed.
                return
            items = [{"Put": self._claim_put(attempt, claim, now)}, {"Put": attempt_put}]
            try:
                transact_write(self.client, items, token=attempt.attempt_id[:36])
            except TransactionCancelled as cancelled:
                failed = cancelled.failed_conditions()
                holder = (failed.get(0) or {}).get("Item") or {}
                holder_id = holder.get("attemptId", {}).get("S")
                if holder_id == attempt.attempt_id or 1 in failed:
                    return  # an earlier try of this very create landed
                raise KeyHeld(holder_id or "", holder.get("bodyHash", {}).get("S", "")) from cancelled

    def _claim_put(self, attempt: Attempt, claim: KeyClaim, now: int) -> dict[str, Any]:
        condition = "attribute_not_exists(id) OR expiration < :now"
        values: dict[str, Any] = {":now": {"N": str(now)}}
        if claim.taking_over:
            condition += " OR attemptId = :released"
            values[":released"] = {"S": claim.taking_over}
        return {
            "TableName": self._keys,
            "Item": {
                "id": {"S": claim.key_id},
                "attemptId": {"S": attempt.attempt_id},
                "bodyHash": {"S": claim.body_hash},
                "expiration": {"N": str(claim.expires_at)},
                "createdAt": {"S": iso_instant(attempt.created_at)},
            },
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def complete(self, attempt: Attempt) -> None:
        """Record the first result of a pending attempt; AttemptConflict when it is not pending."""
        self._set_result(attempt, "#status = :expected", {":expected": {"S": AttemptState.PENDING.value}})

    def correct(self, attempt: Attempt, expected_revision: int) -> None:
        """Replace a final result (a sweep's verdict) with `attempt`'s, one revision on."""
        self._set_result(
            attempt,
            "#status = :expected AND revision = :expected_revision",
            {":expected": {"S": AttemptState.FINAL.value}, ":expected_revision": {"N": str(expected_revision)}},
        )

    def _set_result(self, attempt: Attempt, condition: str, values: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        plain = attempt_to_plain(attempt)
        result = {k: plain[k] for k in _RESULT_FIELDS if plain.get(k) is not None}
        names = {f"#{k}": k for k in result} | {"#status": "status"}
        # The condition's placeholders are named apart from the result's (`:expected...`), so none shadows another.
        values = {f":{k}": to_value(v) for k, v in result.items()} | values | {":final": {"S": "final"}}
        assignments = ", ".join([*(f"#{k} = :{k}" for k in result), "#status = :final"])
        # A result replaces the whole previous one: what it does not have (a sweep's errorCode) goes.
        removals = ", ".join(["pendingKey", *(k for k in _RESULT_FIELDS if k not in result)])
        with storage_errors():
            try:
                self.client.update_item(
                    TableName=self._table,
                    Key={"attemptId": {"S": attempt.attempt_id}},
                    UpdateExpression=f"SET {assignments} REMOVE {removals}",
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise AttemptConflict(attempt.attempt_id, _attempt_or_none(exc.response.get("Item"))) from exc
                raise

    def abandon(self, attempt_id: str, at: datetime) -> None:
        """Mark an attempt that was never sent; a tombstone when its create has not landed (yet)."""
        from botocore.exceptions import ClientError

        with storage_errors():
            try:
                self.client.update_item(
                    TableName=self._table,
                    Key={"attemptId": {"S": attempt_id}},
                    UpdateExpression="SET #status = :abandoned, abandonedAt = :at REMOVE pendingKey",
                    ConditionExpression="attribute_not_exists(attemptId) OR #status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":abandoned": {"S": AttemptState.ABANDONED.value},
                        ":pending": {"S": AttemptState.PENDING.value},
                        ":at": {"S": iso_instant(at)},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    raise AttemptConflict(attempt_id, _attempt_or_none(exc.response.get("Item"))) from exc
                raise

    def get(self, attempt_id: str) -> Attempt | None:
        """An attempt by id, read consistently (its state may have changed a moment ago)."""
        with storage_errors():
            item = self.client.get_item(
                TableName=self._table, Key={"attemptId": {"S": attempt_id}}, ConsistentRead=True
            ).get("Item")
        return _attempt_or_none(item)

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

    def on_target(self, target: str, since: datetime, until: datetime, limit: int) -> list[Attempt]:
        """Attempts asked for one target (`CP#...` or `EVSE#...`) created in [since, until], oldest first."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byTarget",
            "KeyConditionExpression": "targetKey = :t AND createdAt BETWEEN :since AND :until",
            "ExpressionAttributeValues": {
                ":t": {"S": target},
                ":since": {"S": iso_instant(since)},
                ":until": {"S": iso_instant(until)},
            },
        }
        return [attempt_from_plain(from_item(item)) for item in query_items(self.client, request, limit)]

    def completed_on(self, day: str, since: datetime, until: datetime, limit: int) -> list[Attempt]:
        """Final attempts completed on `day` (YYYY-MM-DD) within [since, until], oldest first: one index."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byCompleted",
            "KeyConditionExpression": "completedDay = :day AND completedAt BETWEEN :since AND :until",
            "ExpressionAttributeValues": {
                ":day": {"S": day},
                ":since": {"S": iso_instant(since)},
                ":until": {"S": iso_instant(until)},
            },
        }
        found = query_items(self.client, request, limit)
        return [attempt_from_plain(from_item(item)) for item in found]


def _attempt_or_none(item: dict[str, Any] | None) -> Attempt | None:
    # A tombstone left by `abandon` before its create landed has no target: it is still an abandoned attempt.
    if not item:
        return None
    plain = from_item(item)
    if "path" not in plain:
        return None if plain.get("status") != AttemptState.ABANDONED.value else _tombstone(plain)
    return attempt_from_plain(plain)


def _tombstone(plain: dict[str, Any]) -> Attempt:
    return Attempt(
        attempt_id=str(plain["attemptId"]),
        target=StartTarget(StartPath.EVSE),
        request_body="",
        request_truncated=False,
        created_at=datetime.fromisoformat(str(plain["abandonedAt"])),
        state=AttemptState.ABANDONED,
    )


# ---------------------------------------------------------------------- mapping
def attempt_to_plain(attempt: Attempt) -> dict[str, Any]:
    """An attempt as plain JSON values: the stored item's and the deferred message's shape."""
    answer = attempt.answer
    return {
        "attemptId": attempt.attempt_id,
        "kind": "startAttempt",
        "status": attempt.state.value,
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
        "completedDay": iso_instant(attempt.completed_at)[:10] if attempt.completed_at else None,
        "answerStatus": answer.status if answer else None,
        "answerBody": answer.body if answer else None,
        "answerRetryAfter": answer.retry_after if answer else None,
        "revision": attempt.revision,
        "corrects": attempt.corrects,
        "targetKey": attempt.target.match_key,
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
    answer_status = number("answerStatus")
    attempt_id = str(plain["attemptId"])
    return Attempt(
        attempt_id=attempt_id,
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
        state=AttemptState(plain.get("status", AttemptState.PENDING.value)),
        outcome=Outcome(plain["outcome"]) if plain.get("outcome") else None,
        error_code=plain.get("errorCode"),
        tenant_status=number("tenantStatus"),
        tenant_body=plain.get("tenantBody"),
        tenant_body_truncated=bool(plain.get("tenantBodyTruncated", False)),
        session_id=plain.get("sessionId"),
        authorization_id=plain.get("authorizationId"),
        duration_ms=number("durationMs"),
        completed_at=when("completedAt"),
        answer=(
            StartAnswer(answer_status, str(plain.get("answerBody") or ""), attempt_id, plain.get("answerRetryAfter"))
            if answer_status is not None
            else None
        ),
        revision=number("revision") or 0,
        corrects=plain.get("corrects"),
    )


def attempt_to_json(attempt: Attempt) -> str:
    """An attempt as JSON (the deferred-completion queue's messages)."""
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
