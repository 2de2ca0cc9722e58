"""The start endpoints' work: validation, idempotency, the tenant client and the attempt store."""

from __future__ import annotations

import json
from contextvars import ContextVar
from functools import cache, cached_property
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bridge import secrets
from bridge.errors import Conflict, InvalidInput, StorageUnavailable
from bridge.models.starts import Attempt, StartPath
from bridge.observability import logger
from bridge.settings import StartSettings
from bridge.starts import StartAnswer, canonical_body, parse_start_body, parse_target, start_session
from bridge.storage.attempts import AttemptTable, attempt_to_json
from bridge.storage.dynamo import quick_config, quick_dynamodb_client
from bridge.tenant_client import TenantClient

IDEMPOTENCY_SECONDS = 3600


class _ReleaseKey(Exception):
    """Raised inside the idempotent call so Powertools deletes the key: the answer was retryable."""

    def __init__(self, answer: StartAnswer) -> None:
        super().__init__(answer.status)
        self.answer = answer


class _StartIdempotencyStore(DynamoDBPersistenceLayer):
    # While the first request is in flight, any repeat (same body or not) is a 409; Powertools would check
    # the body first and answer a different one with a validation error.
    def _validate_payload(self, data_payload: dict[str, Any] | DataRecord, stored_data_record: DataRecord) -> None:
        if stored_data_record.status == "INPROGRESS":
            return
        super()._validate_payload(data_payload, stored_data_record)


class StartService:
    """One per container: clients and stores are built on first use and reused."""

    def __init__(self, settings: StartSettings) -> None:
        self.settings = settings
        self.config = IdempotencyConfig(
            event_key_jmespath="scope",
            payload_validation_jmespath="body",
            expires_after_seconds=IDEMPOTENCY_SECONDS,
        )

    @cached_property
    def attempts(self) -> AttemptTable:
        return AttemptTable(self.settings.attempts_table, client=quick_dynamodb_client())

    @cached_property
    def tenant(self) -> TenantClient:
        token_arn = self.settings.ampeco_api_token_arn
        return TenantClient(
            self.settings.ampeco_base_url, lambda: secrets.secret_value(token_arn), self.settings.ampeco_timeout_seconds
        )

    @cached_property
    def _idempotent(self) -> Any:
        persistence = _StartIdempotencyStore(table_name=self.settings.idempotency_table, boto_config=quick_config())

        @idempotent_function(  # type: ignore[untyped-decorator]
            data_keyword_argument="request", config=self.config, persistence_store=persistence
        )
        def start_once(request: dict[str, Any]) -> dict[str, Any]:
            answer = self._start(request["target"], request["raw"].encode(), request["key"])
            _answered.set(answer)
            if not answer.final:
                raise _ReleaseKey(answer)
            return answer.to_dict()

        return start_once

    def register(self, context: LambdaContext) -> None:
        """Powertools needs the context to expire in-flight records with the invocation."""
        self.config.register_lambda_context(context)

    def start(
        self, path: StartPath, charge_point: str | None, evse: str, body: bytes, key: str | None, caller: str
    ) -> StartAnswer:
        """Validate, then start once (or replay the first final answer for the same Idempotency-Key)."""
        target = parse_target(path, charge_point, evse)
        forward = parse_start_body(body)
        target_plain = {"path": path.value, "chargePoint": charge_point, "evse": evse}
        if key is None:
            return self._start(target_plain, forward, None)
        request = {
            "scope": f"{caller}|{target.tenant_path()}|{key}",
            "body": canonical_body(forward),
            "raw": forward.decode(),
            "target": target_plain,
            "key": key,
        }
        _answered.set(None)
        try:
            return StartAnswer.from_dict(self._idempotent(request=request))
        except _ReleaseKey as released:
            return released.answer
        except IdempotencyAlreadyInProgressError as exc:
            raise Conflict("A start with this Idempotency-Key is still in progress.") from exc
        except IdempotencyValidationError as exc:
            raise InvalidInput(
                "The given data was invalid.",
                errors={"Idempotency-Key": ["This Idempotency-Key was used with a different body."]},
            ) from exc
        except IdempotencyPersistenceLayerError as exc:
            answered = _answered.get()
            if answered is not None:
                # The tenant has answered: that answer goes back, never a retry invitation.
                logger.warning("idempotency record not saved after the tenant answered", extra={"key": key})
                return answered
            raise StorageUnavailable("Storage is unavailable, retry shortly.", retry_after=2) from exc

    def _start(self, target_plain: dict[str, Any], body: bytes, key: str | None) -> StartAnswer:
        target = parse_target(StartPath(target_plain["path"]), target_plain["chargePoint"], target_plain["evse"])
        secrets.secret_value(self.settings.ampeco_api_token_arn)  # a 503 now, before any attempt exists
        return start_session(self.attempts, self.tenant, target, body, defer=self._defer, idempotency_key=key)

    def _defer(self, attempt: Attempt) -> None:
        """Completing the record failed: queue the result for the finaliser (the sweeper is the last resort)."""
        logger.warning("attempt completion deferred", extra={"attempt_id": attempt.attempt_id})
        try:
            _sqs_client().send_message(
                QueueUrl=self.settings.completions_queue_url, MessageBody=attempt_to_json(attempt)
            )
        except Exception:
            logger.exception(
                "deferring the completion failed; the sweeper will finalise the attempt",
                extra={"attempt": json.loads(attempt_to_json(attempt))},
            )


@cache
def _sqs_client() -> Any:
    import boto3

    return boto3.client("sqs", config=quick_config())


# The answer of the start running in this thread, for when Powertools fails after the tenant answered.
_answered: ContextVar[StartAnswer | None] = ContextVar("answered", default=None)
