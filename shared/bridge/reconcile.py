"""Reconciliation: the tenant's own listings, so what a dropped webhook lost still arrives. No boto3.

Each kind (security events, sessions) keeps its progress: a watermark (everything the tenant listed up to
that instant is taken in) and, while a run is under way, the run's bounds and the cursor of the next page.
A run pages from the watermark minus an overlap, takes in every item (a repeat changes nothing), and saves
the cursor after each page, so a run stopped by its time budget, a tenant failure or a crash resumes where
it stopped. When the last page is taken in, the watermark becomes the instant the run began.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import ValidationError

from bridge.errors import BridgeError, InvalidInput
from bridge.models.notifications import NotificationRecord, NotificationStatus
from bridge.models.security_events import ListedSecurityEvent
from bridge.models.sessions import Session, SessionUpdateNotification
from bridge.observability import logger
from bridge.resolution import Resolver
from bridge.security_events import SecurityEventStore, ingest_listed
from bridge.sessions import SessionStore, apply_listed, merge, normalise_session_id, session_from_notification


class Kind(StrEnum):
    """What is reconciled; also the metric dimension."""

    SECURITY_EVENTS = "security-events"
    SESSIONS = "sessions"


@dataclass(frozen=True)
class Progress:
    """Where reconciliation of one kind stands; `version` makes every save conditional."""

    watermark: datetime | None = None
    run_from: datetime | None = None  # set while a run is under way
    run_until: datetime | None = None
    cursor: str | None = None  # the tenant's cursor of the next page of the run under way
    version: int = 0


class ProgressConflict(Exception):
    """Another run saved progress meanwhile: this one stops, that one goes on."""


class ProgressStore(Protocol):
    def load(self, kind: Kind) -> Progress: ...

    def save(self, kind: Kind, progress: Progress) -> Progress:
        """Store `progress` if the stored version is still `progress.version`; the saved one is returned."""
        ...


@dataclass(frozen=True)
class ListingPage:
    items: list[Any]
    next_cursor: str | None


class ListingFailed(Exception):
    """The tenant gave no usable page (throttled, failing, unreachable, or not its listing's shape)."""

    def __init__(self, reason: str, *, stale_cursor: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stale_cursor = stale_cursor  # the tenant refused the cursor: start the run's pages over


class InvalidItem(Exception):
    """An item of the listing the bridge cannot take in (it is skipped, counted and logged)."""


Fetch = Callable[[datetime, str | None], ListingPage]
Take = Callable[[Any], bool]  # True when the item was missing here: the webhooks had lost it


@dataclass
class RunReport:
    kind: Kind
    pages: int = 0
    listed: int = 0
    reconciled: int = 0
    skipped: int = 0
    finished: bool = False
    failure: str | None = None
    watermark: datetime | None = None
    resolved: list[str] = field(default_factory=list)

    def lag_seconds(self, now: datetime) -> float | None:
        """How far behind now the watermark is (None before the first run finished)."""
        return None if self.watermark is None else max(0.0, (now - self.watermark).total_seconds())


def run(
    kind: Kind,
    store: ProgressStore,
    fetch: Fetch,
    take: Take,
    *,
    now: datetime,
    overlap: timedelta,
    out_of_time: Callable[[], bool],
) -> RunReport:
    """Page the tenant's listing of one kind until its end or the budget; resumable at every page."""
    progress = store.load(kind)
    report = RunReport(kind, watermark=progress.watermark)
    if progress.run_from is None:
        since = (progress.watermark or now) - overlap
        progress = replace(progress, run_from=since, run_until=now, cursor=None)
    restarted = False
    while not out_of_time():
        assert progress.run_from is not None
        try:
            page = fetch(progress.run_from, progress.cursor)
        except ListingFailed as failed:
            if failed.stale_cursor and progress.cursor and not restarted:
                restarted = True  # the tenant forgot the cursor: the run's pages again, from its start
                progress = replace(progress, cursor=None)
                continue
            report.failure = failed.reason
            break
        report.pages += 1
        if page.next_cursor is not None and page.next_cursor == progress.cursor:
            report.failure = "the tenant answered the same cursor again"
            break
        try:
            _take_page(page, take, report)
        except BridgeError as exc:  # storage unavailable: this page again on the next run
            report.failure = f"storage: {exc.message}"
            break
        done = page.next_cursor is None
        following = (
            Progress(watermark=progress.run_until, version=progress.version)
            if done
            else replace(progress, cursor=page.next_cursor)
        )
        try:
            progress = store.save(kind, following)
        except ProgressConflict:
            report.failure = "another run saved progress meanwhile"
            break
        except BridgeError as exc:  # the page is taken in; the next run takes it again (a repeat)
            report.failure = f"storage: {exc.message}"
            break
        if done:
            report.finished = True
            report.watermark = progress.watermark
            break
    if report.failure:
        logger.warning(
            "reconciliation stopped; the next run resumes", extra={"kind": kind.value, "reason": report.failure}
        )
    return report


def _take_page(page: ListingPage, take: Take, report: RunReport) -> None:
    for item in page.items:
        report.listed += 1
        try:
            if take(item):
                report.reconciled += 1
        except InvalidItem as bad:
            report.skipped += 1
            logger.warning("a listing item was skipped", extra={"kind": report.kind.value, "reason": str(bad)})


# ---------------------------------------------------------------------- taking items in
def security_event_taker(store: SecurityEventStore) -> Take:
    """An item of the tenant's security-event listing, stored once whichever channel brought it first."""

    def take(raw: Any) -> bool:
        try:
            item = ListedSecurityEvent.model_validate_json(json.dumps(raw))
            ingested = ingest_listed(store, item)
        except (ValidationError, InvalidInput, TypeError, ValueError) as exc:
            raise InvalidItem(_why(exc)) from exc
        if ingested.new:
            event = ingested.events[0]
            logger.info(
                "reconciled a security event the webhooks had lost",
                extra={
                    "tenant_id": item.id,
                    "id": event.id,
                    "event_id": event.event_id,
                    "charge_point": event.charge_point,
                },
            )
        return ingested.new

    return take


def session_taker(store: SessionStore, resolver: Resolver | None, now: Callable[[], datetime]) -> Take:
    """A session of the tenant's listing, folded in by the notifications' ordering rule."""

    def take(raw: Any) -> bool:
        try:
            body = json.dumps({"notification": "SessionUpdateNotification", "session": raw}).encode()
        except (TypeError, ValueError) as exc:
            raise InvalidItem(_why(exc)) from exc
        notification, problem = session_from_notification(body, "SessionUpdateNotification")
        if not isinstance(notification, SessionUpdateNotification):
            raise InvalidItem(problem or "not a session")
        record = NotificationRecord(
            fingerprint="listing-" + hashlib.sha256(body).hexdigest(),
            notification="SessionUpdateNotification",
            status=NotificationStatus.PROCESSED,
            received_at=now(),
            body=body.decode(),
            reason="from the tenant's session listing (reconciled)",
        )
        change = apply_listed(store, notification, record)
        if change.applied:
            logger.info("reconciled a session the webhooks had lost", extra={"session_id": change.session_id})
        if resolver is not None:
            # Every listed session, stored before or not: its notification may have come while its start was
            # still pending, so no ambiguous start was there to find then.
            retry_resolution(resolver, merge(None, notification, normalise_session_id(notification.session.id)), now())
        return change.applied

    return take


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors(include_url=False)})
        return "invalid fields: " + ", ".join(fields)
    return type(exc).__name__


RESOLUTION_HORIZON = timedelta(hours=6)  # an older ambiguous start is an operator's call, not a guess


def retry_resolution(resolver: Resolver, session: Session, now: datetime) -> None:
    """Best effort, as on the webhook path: a failure is logged and the next run tries again."""
    if session.started_at < now - RESOLUTION_HORIZON:
        return
    try:
        resolver.for_session(session)
    except BridgeError as exc:
        logger.warning(
            "resolving a start for a listed session failed; the next run retries",
            extra={"session_id": session.id, "reason": exc.message},
        )
