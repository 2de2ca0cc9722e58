"""Security events: ingest from every channel, and the AMPECO listing. No boto3, no event shapes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError

from bridge import event_ids
from bridge.errors import InvalidInput, StorageUnavailable
from bridge.ids import parse_id
from bridge.models.common import iso_instant
from bridge.models.notifications import Delivery, NotificationRecord, NotificationStatus
from bridge.models.security_events import (
    Channel,
    EventQuery,
    InsertConflict,
    ListedSecurityEvent,
    PushedSecurityEvent,
    PushedSecurityEventBatch,
    SecurityEvent,
    SecurityEventNotification,
)
from bridge.validation import INVALID, invalid_input, parse_json

MAX_PROBES = 64  # ids probed per event before giving up (2048 slots exist per millisecond)


class SecurityEventStore(Protocol):
    """What the service needs from storage."""

    def insert(self, events: Sequence[SecurityEvent], notification: NotificationRecord | None = None) -> None: ...

    def get(self, event_id: int) -> SecurityEvent | None: ...

    def query(self, query: EventQuery, limit: int) -> list[SecurityEvent]: ...


@dataclass(frozen=True)
class Ingested:
    """The outcome of a delivery: new (stored now) or a repeat of one stored before."""

    new: bool
    events: tuple[SecurityEvent, ...]


@dataclass(frozen=True)
class _Draft:
    """An event before its id is settled."""

    charge_point: int
    type: str
    tech_info: str
    occurred_at: datetime
    critical: bool
    channel: Channel
    dedup_key: str
    delivery: NotificationRecord | None = None

    def with_id(self, event_id: int) -> SecurityEvent:
        return SecurityEvent(
            id=event_id,
            # A redelivery has the same key and time; a changed one under the same id is another message.
            # Whole milliseconds, as ever: the eventIds of events stored before microseconds were kept stay.
            event_id=event_ids.message_id(f"{self.dedup_key}@{event_ids.epoch_ms(self.occurred_at)}"),
            charge_point=self.charge_point,
            type=self.type,
            tech_info=self.tech_info,
            occurred_at=self.occurred_at,
            critical=self.critical,
            channel=self.channel,
            dedup_key=self.dedup_key,
            delivery=self.delivery,
        )


# ---------------------------------------------------------------------- direct pushes
def parse_charge_point(raw: str) -> int:
    """A charge point id from a path: a positive integer below 2**53, in canonical ASCII decimal."""
    charge_point = parse_id(raw)
    if charge_point is None:
        refused = InvalidInput(INVALID, errors={"chargePoint": ["The chargePoint must be a positive integer."]})
        refused.reason = "invalid_charge_point"
        raise refused
    return charge_point


def parse_push(body: bytes) -> tuple[list[PushedSecurityEvent], bool]:
    """One event or `{"events": [...]}` (then the flag is true); any invalid event fails the push.

    Strict JSON first (400), then the models on the same bytes, so JSON types are kept exactly.
    """
    document = parse_json(body)
    try:
        if isinstance(document, dict) and "events" in document:
            return PushedSecurityEventBatch.model_validate_json(body).events, True
        return [PushedSecurityEvent.model_validate_json(body)], False
    except ValidationError as exc:
        raise invalid_input(exc) from exc


def ingest_push(store: SecurityEventStore, charge_point: int, webhook_id: str, body: bytes) -> Ingested:
    """Validate and store a direct push, deduplicated on (charge point, webhook id)."""
    pushed, is_batch = parse_push(body)
    out_of_range = [i for i, event in enumerate(pushed) if not event_ids.in_id_range(event.timestamp)]
    if out_of_range:
        prefix = "events.{}." if is_batch else ""
        raise InvalidInput(
            INVALID,
            errors={
                prefix.format(i) + "timestamp": ["The timestamp must be between 1970 and 2099."] for i in out_of_range
            },
        )
    drafts = [
        _Draft(
            charge_point=charge_point,
            type=event.type.value,
            tech_info=event.techInfo,
            occurred_at=event.timestamp,  # UTC, to the microsecond, as sent
            critical=True,  # a charge point pushes only the critical types
            channel=Channel.PUSH,
            dedup_key=f"push:{charge_point}:{webhook_id}:{index}",
        )
        for index, event in enumerate(pushed)
    ]
    return _store(store, drafts, notification=None)


# ---------------------------------------------------------------------- AMPECO notifications
def ingest_security_notification(store: SecurityEventStore, delivery: Delivery, record: NotificationRecord) -> Ingested:
    """A SecurityEventNotification: an event when usable, otherwise only its record, quarantined.

    A usable one is one conditional put of the event, which carries its delivery (fingerprint, headers,
    body): the event's identity is the dedup check for a redelivery too, so no separate record is written
    and nothing is written twice (a transaction would double both).
    """
    event, problem = _security_event_from(delivery)
    if event is None:
        quarantined = replace(record, status=NotificationStatus.QUARANTINED, reason=problem)
        return _store(store, [], notification=quarantined)
    return _store(store, [replace(event, delivery=record)], notification=None)


def record_only(store: SecurityEventStore, record: NotificationRecord) -> Ingested:
    """Keep a notification's record and nothing else (deduplicated like any delivery)."""
    return _store(store, [], notification=record)


def _security_event_from(delivery: Delivery) -> tuple[_Draft | None, str | None]:
    # Validated from the raw bytes, so JSON types are kept exactly (nothing coerced).
    try:
        notification = SecurityEventNotification.model_validate_json(delivery.body)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors(include_url=False)})
        return None, "invalid fields: " + ", ".join(fields)
    if not event_ids.in_id_range(notification.timestamp):
        return None, "timestamp outside 1970..2099"
    return (
        _Draft(
            charge_point=notification.chargePointId,
            type=notification.type,
            tech_info=notification.techInfo or "",
            occurred_at=notification.timestamp,
            critical=notification.critical,
            channel=Channel.AMPECO,
            dedup_key=ampeco_identity(
                notification.chargePointId, notification.type, notification.timestamp, notification.techInfo or ""
            ),
        ),
        None,
    )


def ampeco_identity(charge_point: int, event_type: str, occurred_at: datetime, tech_info: str) -> str:
    """One AMPECO security event, whichever way it came: (chargePoint, type, timestamp instant, techInfo).

    A notification and the tenant's listing item for the same occurrence get the same key, so the same id
    and eventId: the second to arrive finds the first's slot and is a repeat.
    """
    instant = iso_instant(occurred_at)  # the instant, to the microsecond, whatever offset it was written in
    digest = hashlib.sha256(json.dumps([charge_point, event_type, instant, tech_info]).encode()).hexdigest()
    return f"ampeco:{digest[:40]}"


# ---------------------------------------------------------------------- the tenant's listing (reconciler)
def ingest_listed(store: SecurityEventStore, item: ListedSecurityEvent) -> Ingested:
    """An item of the tenant's security-event listing: stored unless its notification (or an earlier run)
    brought it already; `new` means the webhooks had lost it."""
    if not event_ids.in_id_range(item.timestamp):
        raise InvalidInput(INVALID, errors={"timestamp": ["The timestamp must be between 1970 and 2099."]})
    draft = _Draft(
        charge_point=item.chargePoint,
        type=item.type,
        tech_info=item.techInfo or "",
        occurred_at=item.timestamp,
        critical=True,  # AMPECO's resource holds only the critical types
        channel=Channel.RECONCILED,
        dedup_key=ampeco_identity(item.chargePoint, item.type, item.timestamp, item.techInfo or ""),
    )
    return _store(store, [draft], notification=None)


# ---------------------------------------------------------------------- storing
def _store(store: SecurityEventStore, drafts: list[_Draft], notification: NotificationRecord | None) -> Ingested:
    """One conditional write per attempt, the events' own keys being the dedup check.

    A slot held by another event moves that event to its next slot; a slot held by the same event means
    it was stored by an earlier delivery. The delivery is a repeat when every event (or its record) was.
    """
    probes: list[Iterator[int]] = [event_ids.candidate_ids(d.occurred_at, d.dedup_key) for d in drafts]
    ids = _distinct([next(p) for p in probes], probes)
    stored_before: set[int] = set()
    for _ in range(MAX_PROBES):
        events = tuple(d.with_id(i) for d, i in zip(drafts, ids, strict=True))
        pending = [i for i in range(len(events)) if i not in stored_before]
        if drafts and not pending and notification is None:
            return Ingested(new=False, events=events)
        try:
            store.insert([events[i] for i in pending], notification)
        except InsertConflict as conflict:
            if conflict.duplicate:
                return Ingested(new=False, events=events)
            for position, holder in conflict.taken.items():
                index = pending[position]
                if holder == drafts[index].dedup_key:
                    stored_before.add(index)
                else:
                    ids[index] = next(probes[index])
            ids = _distinct(ids, probes)
            continue
        return Ingested(new=True, events=events)
    raise StorageUnavailable("Could not place the event, retry shortly.", retry_after=1)


def _distinct(ids: list[int], probes: list[Iterator[int]]) -> list[int]:
    # Events of one batch may hash to one slot; a transaction cannot write one key twice.
    seen: set[int] = set()
    for index, event_id in enumerate(ids):
        while event_id in seen:
            event_id = next(probes[index])
        ids[index] = event_id
        seen.add(event_id)
    return ids


# ---------------------------------------------------------------------- reads
def read_event(store: SecurityEventStore, raw_id: str) -> SecurityEvent | None:
    """A listed event by its id; junk ids (fullwidth digits, `012`) simply do not exist."""
    event_id = parse_id(raw_id)
    return None if event_id is None else store.get(event_id)


@dataclass(frozen=True)
class EventListing:
    """A listing's conditions: the key range, in whole milliseconds, and the exact inclusive time bounds."""

    key: EventQuery
    since: datetime | None = None
    until: datetime | None = None

    def admits(self, event: SecurityEvent) -> bool:
        """Whether the event is inside the bounds (the key range also holds the rest of the bounds' milliseconds)."""
        return (self.since is None or event.occurred_at >= self.since) and (
            self.until is None or event.occurred_at <= self.until
        )


def event_query(
    event_type: str | None, charge_point: int | None, since: datetime | None, until: datetime | None
) -> EventListing:
    """The key condition for a listing and its bounds: ids are per millisecond, so the bounds' own are taken whole."""
    lowest = event_ids.lowest_id(max(0, event_ids.epoch_ms(since))) if since else 0
    highest = event_ids.highest_id(min(event_ids.MAX_EPOCH_MS, event_ids.epoch_ms(until))) if until else 2**53 - 1
    return EventListing(EventQuery(event_type, charge_point, lowest, highest), since, until)


@dataclass(frozen=True)
class Page:
    """One page of a listing and the id to continue below, if more exist."""

    items: list[SecurityEvent]
    continue_below: int | None


def list_events(store: SecurityEventStore, listing: EventListing, per_page: int, below: int | None = None) -> Page:
    """Newest first; reads one item past the page to know whether another page exists.

    Items of the bounds' milliseconds that fall outside the bounds are dropped here, and reading goes on
    below them until the page is full or the range is exhausted.
    """
    query = listing.key
    highest = query.highest_id if below is None else min(query.highest_id, below - 1)
    wanted = per_page + 1
    kept: list[SecurityEvent] = []
    while highest >= query.lowest_id and len(kept) < wanted:
        limit = wanted - len(kept)
        found = store.query(replace(query, highest_id=highest), limit)
        kept += [event for event in found if listing.admits(event)]
        if len(found) < limit:
            break
        highest = found[-1].id - 1
    items = kept[:per_page]
    return Page(items, items[-1].id if len(kept) > per_page else None)
