"""Sessions from the tenant's notifications, and the AMPECO session listing. No boto3, no event shapes.

Deliveries come late, twice and out of order. Every notification has an ordering instant (its
`lastUpdatedAt`, else the latest instant it states) and the stored session keeps the instant of the newest
one applied, which therefore never goes backwards and is never empty. A notification changes the session
only when its instant is not before the stored one (on a tie the later arrival wins), and the write is
conditional on the version it was computed from, so concurrent deliveries cannot interleave.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from bridge.errors import StorageUnavailable
from bridge.models.common import iso_instant
from bridge.models.notifications import NotificationRecord
from bridge.models.security_events import InsertConflict
from bridge.models.sessions import (
    SESSION_FIELDS,
    Session,
    SessionNotification,
    SessionStartStopNotification,
    SessionUpdateNotification,
)

MAX_ATTEMPTS = 5  # optimistic-concurrency retries for one delivery


class VersionConflict(Exception):
    """The session changed between read and write."""


class SessionStore(Protocol):
    """What the service needs from storage."""

    def get(self, session_id: str) -> Session | None: ...

    def save(self, session: Session | None, expected_version: int | None, record: NotificationRecord) -> None:
        """Write the session (None: only the record) and the notification record in one conditional write;
        InsertConflict(duplicate=True) for a repeat, VersionConflict for a lost race."""
        ...


@dataclass(frozen=True)
class SessionChange:
    """What a notification did: applied, or left the newer stored session alone."""

    applied: bool
    new_delivery: bool
    session_id: str | None
    stored: Session | None = None  # the session as written, when applied
    created: bool = False  # the session was not stored before: a start may be waiting for it


def session_from_notification(body: bytes, kind: str) -> tuple[SessionNotification | None, str | None]:
    """The validated notification, or the reason it cannot be used (wrong types are not coerced)."""
    model: type[SessionNotification]
    model = SessionUpdateNotification if kind == "SessionUpdateNotification" else SessionStartStopNotification
    try:
        return model.model_validate_json(body), None
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors(include_url=False)})
        return None, "invalid fields: " + ", ".join(fields)


def apply_notification(
    store: SessionStore, notification: SessionNotification, record: NotificationRecord
) -> SessionChange:
    """Fold one session notification into the stored session, at most once per delivery."""
    session_id = normalise_session_id(
        notification.session.id if isinstance(notification, SessionUpdateNotification) else notification.sessionId
    )
    incoming_at = ordering_instant(notification)
    for _ in range(MAX_ATTEMPTS):
        current = store.get(session_id)
        if current and is_older(incoming_at, current.ordered_at):
            ignored = replace(record, reason="older than the stored session; not applied")
            try:
                store.save(None, None, ignored)
            except InsertConflict:
                return SessionChange(applied=False, new_delivery=False, session_id=session_id)
            return SessionChange(applied=False, new_delivery=True, session_id=session_id)
        updated = merge(current, notification, session_id)
        try:
            store.save(updated, current.version if current else None, record)
        except InsertConflict:
            return SessionChange(applied=False, new_delivery=False, session_id=session_id)
        except VersionConflict:
            continue
        return SessionChange(
            applied=True, new_delivery=True, session_id=session_id, stored=updated, created=current is None
        )
    raise StorageUnavailable("The session is changing too fast, retry shortly.", retry_after=1)


def apply_listed(
    store: SessionStore, notification: SessionUpdateNotification, record: NotificationRecord
) -> SessionChange:
    """A session from the tenant's listing, folded in by the same rule as a notification. Nothing is written
    when it would change nothing (the webhooks brought that state already): only what they lost counts."""
    session_id = normalise_session_id(notification.session.id)
    current = store.get(session_id)
    if current and (
        is_older(ordering_instant(notification), current.ordered_at)
        or _same_state(merge(current, notification, session_id), current)
    ):
        return SessionChange(applied=False, new_delivery=False, session_id=session_id)
    return apply_notification(store, notification, record)


def _same_state(a: Session, b: Session) -> bool:
    return (a.document, a.status, a.started_at, a.id_tag, a.ordered_at) == (
        b.document,
        b.status,
        b.started_at,
        b.id_tag,
        b.ordered_at,
    )


def ordering_instant(notification: SessionNotification) -> datetime:
    """When the notification says the session last changed: `lastUpdatedAt`, else the latest instant it states."""
    stated: tuple[datetime | None, ...]
    if isinstance(notification, SessionUpdateNotification):
        notified = notification.session
        if notified.lastUpdatedAt is not None:
            return notified.lastUpdatedAt
        stated = (notified.startedAt, notified.stoppedAt, notified.paymentStatusUpdatedAt)
    else:
        if notification.lastUpdatedAt is not None:
            return notification.lastUpdatedAt
        stated = (notification.startedAtTimestamp, notification.stoppedAtTimestamp)
    return max(moment for moment in stated if moment is not None)  # startedAt is always there


def is_older(incoming: datetime, stored: datetime) -> bool:
    """Only a notification whose instant is before the stored one loses; a tie lets the later arrival win."""
    return incoming < stored


def merge(current: Session | None, notification: SessionNotification, session_id: str) -> Session:
    """The session after this notification (which is not older than `current`)."""
    incoming_at = ordering_instant(notification)
    # The newer of the two instants, so the stored one can never go backwards.
    ordered_at = max(incoming_at, current.ordered_at) if current else incoming_at
    version = current.version + 1 if current else 1
    if isinstance(notification, SessionUpdateNotification):
        return _from_update(notification, session_id, ordered_at, version)
    return _from_start_stop(current, notification, session_id, ordered_at, version)


def _from_update(
    notification: SessionUpdateNotification, session_id: str, ordered_at: datetime, version: int
) -> Session:
    notified = notification.session
    raw = notified.model_dump(mode="json", exclude_unset=True)
    document = {k: v for k, v in raw.items() if k in SESSION_FIELDS}
    document["id"] = session_id
    # AMPECO omits randomisedDelay when no delay applied.
    document["randomisedDelay"] = notified.randomisedDelay or 0
    for name in ("startedAt", "stoppedAt", "paymentStatusUpdatedAt", "lastUpdatedAt"):
        moment = getattr(notified, name)
        if moment is not None:
            document[name] = iso_instant(moment)
    return Session(
        id=session_id,
        document=document,
        charge_point=notified.chargePointId,
        evse=notified.evseId,
        status=notified.status,
        started_at=notified.startedAt.astimezone(UTC),
        id_tag=notified.idTag,
        ordered_at=ordered_at,
        version=version,
    )


def _from_start_stop(
    current: Session | None,
    notification: SessionStartStopNotification,
    session_id: str,
    ordered_at: datetime,
    version: int,
) -> Session:
    document = dict(current.document) if current else _skeleton(session_id)
    stop = notification.action == "stop" or (notification.action is None and notification.stoppedAtTimestamp)
    document.update(
        {
            "chargePointId": notification.chargePointId,
            "evseId": notification.evseId,
            "startedAt": iso_instant(notification.startedAtTimestamp),
            "status": "finished" if stop else document.get("status") or "active",
        }
    )
    if stop and notification.stoppedAtTimestamp:
        document["stoppedAt"] = iso_instant(notification.stoppedAtTimestamp)
    for name in ("userId", "idTag", "reason", "externalAppData"):
        if getattr(notification, name) is not None:
            document[name] = getattr(notification, name)
    if notification.lastUpdatedAt:
        document["lastUpdatedAt"] = iso_instant(notification.lastUpdatedAt)
    # start/stop notifications never carry randomisedDelay: it stays as it was (0 for a new session).
    document.setdefault("randomisedDelay", 0)
    return Session(
        id=session_id,
        document=document,
        charge_point=notification.chargePointId,
        evse=notification.evseId,
        status=str(document["status"]),
        started_at=notification.startedAtTimestamp.astimezone(UTC),
        id_tag=document.get("idTag"),
        ordered_at=ordered_at,
        version=version,
    )


def _skeleton(session_id: str) -> dict[str, Any]:
    """The fields AMPECO's Session always has, before the tenant told us their values."""
    return {
        "id": session_id,
        "status": "active",
        "userId": None,
        "authorizationId": None,
        "energy": 0,
        "energyConsumption": {"total": 0, "grid": 0},
        "billingStatus": None,
        "randomisedDelay": 0,
    }


def normalise_session_id(value: int | str) -> str:
    """A string in the resource; numbers in starts and notifications."""
    return str(value)


def session_resource(session: Session) -> dict[str, Any]:
    """AMPECO's Session with `randomisedDelay` always an integer."""
    resource = {**_skeleton(session.id), **session.document}
    resource["id"] = session.id
    resource["randomisedDelay"] = int(resource.get("randomisedDelay") or 0)
    return resource


def document_json(document: dict[str, Any]) -> str:
    """The stored form of the session document."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
