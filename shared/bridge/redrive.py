"""An operator's ways back: publish again what the relay gave up on, or replay what is stored.

Both publish with the messages' own eventIds, so subscribers that drop duplicates see each event once,
and both are bounded and safe to repeat. No boto3 here: stores and the publisher are ports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bridge.models.messages import OutboundMessage
from bridge.models.security_events import SecurityEvent
from bridge.models.starts import Attempt
from bridge.observability import logger
from bridge.relay import security_event_message, start_result_message
from bridge.storage.undelivered import Undelivered

Publish = Callable[[OutboundMessage], None]
MAX_REPLAY_DAYS = 31  # one Query per day of start results: a replay stays bounded


class UndeliveredMessages(Protocol):
    """The relay's kept messages."""

    def pending(self, limit: int) -> list[Undelivered]: ...

    def remove(self, event_id: str) -> None: ...


class StoredEvents(Protocol):
    """Stored security events by occurrence time."""

    def in_window(
        self, since: datetime, until: datetime, charge_point: int | None, event_type: str | None, limit: int
    ) -> list[SecurityEvent]: ...


class StoredResults(Protocol):
    """Final start attempts by completion time."""

    def completed_on(self, day: str, since: datetime, until: datetime, limit: int) -> list[Attempt]: ...


@dataclass
class Report:
    """What a redrive or replay did."""

    published: int = 0
    failed: int = 0
    event_ids: list[str] = field(default_factory=list)


def redrive(store: UndeliveredMessages, publish: Publish, limit: int, dry_run: bool = False) -> Report:
    """Publish each kept message again (same eventId), then forget it; a failure keeps it for the next run."""
    report = Report()
    for entry in store.pending(limit):
        message = entry.message
        report.event_ids.append(message.event_id)
        if dry_run:
            continue
        try:
            publish(message)
        except Exception:
            report.failed += 1
            logger.warning("redrive could not publish; kept", extra={"event_id": message.event_id})
            continue
        # Published and then not forgotten, a later run publishes it again: the same eventId, dropped downstream.
        store.remove(message.event_id)
        report.published += 1
    return report


def replay_security_events(
    store: StoredEvents,
    publish: Publish,
    since: datetime,
    until: datetime,
    *,
    charge_point: int | None = None,
    event_type: str | None = None,
    limit: int,
    dry_run: bool = False,
) -> Report:
    """Publish stored security events of a window again, newest first, at most `limit`."""
    _check_window(since, until)
    events = store.in_window(since, until, charge_point, event_type, limit)
    return _publish_all((security_event_message(e) for e in events), publish, dry_run)


def replay_start_results(
    store: StoredResults, publish: Publish, since: datetime, until: datetime, *, limit: int, dry_run: bool = False
) -> Report:
    """Publish the current result of each start completed in a window again, at most `limit`."""
    _check_window(since, until)
    attempts: list[Attempt] = []
    day = since.date()
    while day <= until.date() and len(attempts) < limit:
        attempts += store.completed_on(day.isoformat(), since, until, limit - len(attempts))
        day += timedelta(days=1)
    return _publish_all((start_result_message(a) for a in attempts), publish, dry_run)


def _check_window(since: datetime, until: datetime) -> None:
    if until < since:
        raise ValueError("the window ends before it starts")
    if until - since > timedelta(days=MAX_REPLAY_DAYS):
        raise ValueError(f"a replay covers at most {MAX_REPLAY_DAYS} days")


def _publish_all(messages: Iterable[OutboundMessage], publish: Publish, dry_run: bool) -> Report:
    report = Report()
    for message in messages:
        report.event_ids.append(message.event_id)
        if dry_run:
            continue
        try:
            publish(message)
            report.published += 1
        except Exception:
            report.failed += 1
            logger.warning("replay could not publish", extra={"event_id": message.event_id})
    return report
