"""Settings: read once from the environment into one model per function; names equal template keys."""

from __future__ import annotations

import os
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

T = TypeVar("T", bound="_Settings")


class _Settings(BaseModel):
    # defer_build: each function builds only its own settings model (at cold start), not all six.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False, defer_build=True)

    @classmethod
    def from_env(cls: type[T], environ: dict[str, str] | None = None) -> T:
        """Build from the environment; a misconfigured function fails here, at cold start."""
        source: dict[str, Any] = dict(os.environ if environ is None else environ)
        try:
            return cls.model_validate(source)
        except ValidationError as exc:
            # One line, which is what a failed cold start shows: each setting refused, its value, what is allowed.
            raise RuntimeError(f"invalid configuration for {cls.__name__}: {'; '.join(refusals(exc, cls))}") from exc


def refusals(exc: ValidationError, model: type[BaseModel] | None = None) -> list[str]:
    """One `NAME='value' is not allowed: <what is allowed>` line per setting a settings model refused.

    Without `model`, the error's title names it (the local run gets the error from a handler's import); the
    error of any other model has no such lines.
    """
    if model is None:
        model = next((each for each in _Settings.__subclasses__() if each.__name__ == exc.title), None)
        if model is None:
            return []
    fields = {field.alias: field for field in model.model_fields.values()}
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        field = fields.get(name)
        allowed = _allowed(field) if field is not None else error["msg"][:1].lower() + error["msg"][1:]
        if error["type"] == "missing":
            lines.append(f"{name} is not set: {allowed} is required")
        else:
            lines.append(f"{name}={error['input']!r} is not allowed: {allowed}")
    return lines


def _allowed(field: FieldInfo) -> str:
    """What a field takes, in words, from its type and constraints."""
    limits = {
        name: getattr(item, name)
        for item in field.metadata
        for name in ("gt", "ge", "lt", "le", "min_length", "pattern")
        if getattr(item, name, None) is not None
    }
    kind = "an integer" if field.annotation is int else "a number" if field.annotation is float else "a value"
    if "pattern" in limits:
        return f"{kind} matching {limits['pattern']}"
    if limits.get("min_length") == 1:
        return "a non-empty value"
    if "ge" in limits and "le" in limits:
        return f"{kind} from {_number(limits['ge'])} to {_number(limits['le'])}"
    words = {"gt": "greater than", "ge": "at least", "lt": "less than", "le": "at most"}
    bounds = " and ".join(f"{words[name]} {_number(limits[name])}" for name in words if name in limits)
    if bounds.startswith("at "):
        bounds = "of " + bounds  # "an integer of at least 1"
    return f"{kind} {bounds}" if bounds else kind


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class WebhookSettings(_Settings):
    """The webhooks function."""

    security_events_table: str = Field(alias="SECURITY_EVENTS_TABLE", min_length=1)
    sessions_table: str = Field(alias="SESSIONS_TABLE", min_length=1)
    session_listing_table: str = Field(alias="SESSION_LISTING_TABLE", min_length=1)  # combinations of filters
    attempts_table: str = Field(alias="ATTEMPTS_TABLE", min_length=1)  # a new session may resolve a start
    webhook_secret_arn: str = Field(alias="WEBHOOK_SECRET_ARN", min_length=1)
    ampeco_api_token_arn: str = Field(alias="AMPECO_API_TOKEN_ARN", min_length=1)
    ampeco_tenant: str | None = Field(default=None, alias="AMPECO_TENANT")
    webhook_tolerance_seconds: int = Field(default=300, alias="WEBHOOK_TOLERANCE_SECONDS", ge=1, le=3600)
    # Notification records are AMPECO's dedup marks: redeliveries are deduplicated this long (at least 30 days).
    notification_retention_days: int = Field(default=30, alias="NOTIFICATION_RETENTION_DAYS", ge=30, le=3650)


class QuerySettings(_Settings):
    """The listing and read function."""

    security_events_table: str = Field(alias="SECURITY_EVENTS_TABLE", min_length=1)
    sessions_table: str = Field(alias="SESSIONS_TABLE", min_length=1)
    session_listing_table: str = Field(alias="SESSION_LISTING_TABLE", min_length=1)  # combinations of filters
    cursor_secret_arn: str = Field(alias="CURSOR_SECRET_ARN", min_length=1)


class RelaySettings(_Settings):
    """The stream relay."""

    security_events_topic_arn: str = Field(alias="SECURITY_EVENTS_TOPIC_ARN", min_length=1)
    start_results_topic_arn: str = Field(alias="START_RESULTS_TOPIC_ARN", min_length=1)
    undelivered_table: str = Field(alias="UNDELIVERED_TABLE", min_length=1)
    # A message still failing this long after its item was written is kept for redrive instead.
    relay_give_up_seconds: int = Field(default=300, alias="RELAY_GIVE_UP_SECONDS", ge=0, le=3600)


class StartSettings(_Settings):
    """The starts function."""

    attempts_table: str = Field(alias="ATTEMPTS_TABLE", min_length=1)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    completions_queue_url: str = Field(alias="COMPLETIONS_QUEUE_URL", min_length=1)
    ampeco_base_url: str = Field(alias="AMPECO_BASE_URL", pattern=r"^https?://[^\s/]+")
    ampeco_api_token_arn: str = Field(alias="AMPECO_API_TOKEN_ARN", min_length=1)
    # API Gateway gives up at 29 s: the deadline plus recording must fit under it.
    ampeco_timeout_seconds: float = Field(default=10, alias="AMPECO_TIMEOUT_SECONDS", gt=0, le=25)
    # Days an attempt record is kept (its `expiresAt`, the table's TTL); 0 keeps every attempt forever.
    attempt_retention_days: int = Field(default=0, alias="ATTEMPT_RETENTION_DAYS", ge=0, le=3650)


class FinaliserSettings(_Settings):
    """The function that completes deferred results and sweeps stuck attempts."""

    attempts_table: str = Field(alias="ATTEMPTS_TABLE", min_length=1)
    # Longer than the starts function can run plus the deferral queue's retries, so a sweep rarely has to guess.
    stuck_after_seconds: int = Field(default=180, alias="STUCK_AFTER_SECONDS", ge=1)


class ReconcilerSettings(_Settings):
    """The scheduled reconciler: the tenant's own listings, paged from a watermark minus an overlap."""

    security_events_table: str = Field(alias="SECURITY_EVENTS_TABLE", min_length=1)
    sessions_table: str = Field(alias="SESSIONS_TABLE", min_length=1)
    session_listing_table: str = Field(alias="SESSION_LISTING_TABLE", min_length=1)  # combinations of filters
    attempts_table: str = Field(alias="ATTEMPTS_TABLE", min_length=1)
    reconcile_table: str = Field(alias="RECONCILE_TABLE", min_length=1)
    ampeco_base_url: str = Field(alias="AMPECO_BASE_URL", pattern=r"^https?://[^\s/]+")
    ampeco_api_token_arn: str = Field(alias="AMPECO_API_TOKEN_ARN", min_length=1)
    ampeco_timeout_seconds: float = Field(default=10, alias="AMPECO_TIMEOUT_SECONDS", gt=0, le=25)
    # At least ten minutes (the contract); more covers chargers that report late, at the cost of rereading.
    reconcile_overlap_seconds: int = Field(default=600, alias="RECONCILE_OVERLAP_SECONDS", ge=600, le=7 * 86400)
    # The notification records it writes for what it took in (as the webhooks function's).
    notification_retention_days: int = Field(default=30, alias="NOTIFICATION_RETENTION_DAYS", ge=30, le=3650)
