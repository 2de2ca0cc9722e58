"""Each function's dependencies, built once per container from its settings: the one place things are wired.

Handlers call these at import (settings are read then, so a misconfigured function fails at cold start);
clients are created on first use, so wiring does no I/O. Tests replace the ports with in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from bridge import aws

if TYPE_CHECKING:  # each builder imports only what its function uses: no import a function does not need
    from bridge.deferrals import QueuedDeferrals
    from bridge.publisher import SnsPublisher
    from bridge.resolution import Resolver
    from bridge.settings import (
        FinaliserSettings,
        QuerySettings,
        ReconcilerSettings,
        RelaySettings,
        StartSettings,
        WebhookSettings,
    )
    from bridge.storage.attempts import AttemptTable
    from bridge.storage.progress import ProgressTable
    from bridge.storage.security_events import SecurityEventTable
    from bridge.storage.sessions import SessionTable
    from bridge.storage.undelivered import UndeliveredTable
    from bridge.tenant_client import TenantClient
    from bridge.tenant_listings import TenantListings

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class WebhookDependencies:
    settings: WebhookSettings
    events: SecurityEventTable
    sessions: SessionTable
    resolver: Resolver
    secret: Callable[[str], str]
    clock: Clock


@dataclass(frozen=True)
class QueryDependencies:
    settings: QuerySettings
    events: SecurityEventTable
    sessions: SessionTable
    secret: Callable[[str], str]
    secrets_in_rotation: Callable[[str], list[str]]


@dataclass(frozen=True)
class StartDependencies:
    settings: StartSettings
    attempts: AttemptTable
    tenant: TenantClient
    deferrals: QueuedDeferrals
    secret: Callable[[str], str]
    clock: Clock


@dataclass(frozen=True)
class RelayDependencies:
    settings: RelaySettings
    publish: SnsPublisher
    undelivered: UndeliveredTable
    clock: Clock


@dataclass(frozen=True)
class FinaliserDependencies:
    settings: FinaliserSettings
    attempts: AttemptTable
    clock: Clock


@dataclass(frozen=True)
class ReconcilerDependencies:
    settings: ReconcilerSettings
    progress: ProgressTable
    listings: TenantListings
    events: SecurityEventTable
    sessions: SessionTable
    attempts: AttemptTable
    resolver: Resolver
    clock: Clock


@cache
def webhooks() -> WebhookDependencies:
    """The webhooks function's."""
    from bridge import secrets
    from bridge.resolution import Resolver
    from bridge.settings import WebhookSettings
    from bridge.storage.attempts import AttemptTable

    settings = WebhookSettings.from_env()
    dynamodb = aws.LazyClient("dynamodb")
    events, sessions = _intake_stores(settings, dynamodb)
    return WebhookDependencies(
        settings=settings,
        events=events,
        sessions=sessions,
        resolver=Resolver(AttemptTable(settings.attempts_table, client=dynamodb), sessions),
        secret=secrets.secret_value,
        clock=system_clock,
    )


@cache
def queries() -> QueryDependencies:
    """The query function's."""
    from bridge import secrets
    from bridge.settings import QuerySettings
    from bridge.storage.security_events import SecurityEventTable
    from bridge.storage.sessions import SessionTable

    settings = QuerySettings.from_env()
    dynamodb = aws.LazyClient("dynamodb")
    return QueryDependencies(
        settings=settings,
        events=SecurityEventTable(settings.security_events_table, client=dynamodb),
        sessions=SessionTable(
            settings.sessions_table,
            notifications_table="",
            client=dynamodb,
            listing_table=settings.session_listing_table,
        ),
        secret=secrets.secret_value,
        secrets_in_rotation=secrets.secret_values_in_rotation,
    )


@cache
def starts() -> StartDependencies:
    """The starts function's: the writes around the tenant call fail fast (aws.QUICK)."""
    from bridge import secrets
    from bridge.deferrals import QueuedDeferrals
    from bridge.settings import StartSettings
    from bridge.storage.attempts import AttemptTable
    from bridge.tenant_client import TenantClient

    settings = StartSettings.from_env()
    token_arn = settings.ampeco_api_token_arn
    return StartDependencies(
        settings=settings,
        attempts=AttemptTable(
            settings.attempts_table,
            settings.idempotency_table,
            client=aws.LazyClient("dynamodb", quick=True),
            retention_days=settings.attempt_retention_days,
        ),
        tenant=TenantClient(
            settings.ampeco_base_url, lambda: secrets.secret_value(token_arn), settings.ampeco_timeout_seconds
        ),
        deferrals=QueuedDeferrals(settings.completions_queue_url, aws.LazyClient("sqs", quick=True)),
        secret=secrets.secret_value,
        clock=system_clock,
    )


@cache
def relay() -> RelayDependencies:
    """The stream relay's."""
    from bridge.publisher import SnsPublisher
    from bridge.settings import RelaySettings
    from bridge.storage.undelivered import UndeliveredTable

    settings = RelaySettings.from_env()
    return RelayDependencies(
        settings=settings,
        publish=SnsPublisher(
            {"security-events": settings.security_events_topic_arn, "start-results": settings.start_results_topic_arn},
            client=aws.LazyClient("sns"),
        ),
        undelivered=UndeliveredTable(settings.undelivered_table, client=aws.LazyClient("dynamodb")),
        clock=system_clock,
    )


@cache
def finaliser() -> FinaliserDependencies:
    """The finaliser's."""
    from bridge.settings import FinaliserSettings
    from bridge.storage.attempts import AttemptTable

    settings = FinaliserSettings.from_env()
    return FinaliserDependencies(
        settings=settings,
        attempts=AttemptTable(settings.attempts_table, client=aws.LazyClient("dynamodb")),
        clock=system_clock,
    )


@cache
def reconciler() -> ReconcilerDependencies:
    """The reconciler's: the tenant's listings through the same client (one deadline per call)."""
    from bridge import secrets
    from bridge.resolution import Resolver
    from bridge.settings import ReconcilerSettings
    from bridge.storage.attempts import AttemptTable
    from bridge.storage.progress import ProgressTable
    from bridge.tenant_client import TenantClient
    from bridge.tenant_listings import TenantListings

    settings = ReconcilerSettings.from_env()
    token_arn = settings.ampeco_api_token_arn
    dynamodb = aws.LazyClient("dynamodb")
    events, sessions = _intake_stores(settings, dynamodb)
    attempts = AttemptTable(settings.attempts_table, client=dynamodb)
    tenant = TenantClient(
        settings.ampeco_base_url, lambda: _token(secrets.secret_value(token_arn)), settings.ampeco_timeout_seconds
    )
    return ReconcilerDependencies(
        settings=settings,
        progress=ProgressTable(settings.reconcile_table, client=dynamodb),
        listings=TenantListings(tenant),
        events=events,
        sessions=sessions,
        attempts=attempts,
        resolver=Resolver(attempts, sessions),
        clock=system_clock,
    )


def _intake_stores(
    settings: WebhookSettings | ReconcilerSettings, dynamodb: Any
) -> tuple[SecurityEventTable, SessionTable]:
    """The stores whatever AMPECO sends goes into, by webhook or by the reconciler: the same for both."""
    from bridge.storage.security_events import SecurityEventTable
    from bridge.storage.sessions import SessionTable

    kept = timedelta(days=settings.notification_retention_days)
    events = SecurityEventTable(settings.security_events_table, client=dynamodb, notification_retention=kept)
    # Notification records of session deliveries live in the events table beside the others.
    sessions = SessionTable(
        settings.sessions_table,
        settings.security_events_table,
        client=dynamodb,
        notification_retention=kept,
        listing_table=settings.session_listing_table,
    )
    return events, sessions


def _token(value: str) -> str:
    """The tenant token, refused while it is a placeholder: nothing default reaches the tenant."""
    from bridge import push_secrets
    from bridge.errors import NotConfigured

    if push_secrets.is_placeholder(value):
        raise NotConfigured("AmpecoApiToken", "the AMPECO tenant's API token")
    return value


def reset() -> None:
    """Forget every function's wiring (tests that change the environment)."""
    for build in (webhooks, queries, starts, relay, finaliser, reconciler):
        build.cache_clear()
