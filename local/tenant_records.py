"""What the tenant simulator generated, kept so it can list it as AMPECO does: sessions and security events.

Both stores are thread-safe (the simulator's handler threads, its delivery threads and the local run's
helpers write and read them at once) and hand out copies, never the live objects.

Timestamps are UTC with microseconds and are written `2026-11-30T05:00:00.123456Z`, so two records made in
the same second still have distinct, ordered instants.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

# The seven types AMPECO marks critical: its security-events resource lists only these. The tenant keeps its
# own copy from AMPECO's API description rather than the bridge's, so a mistake in the bridge's shows in tests.
CRITICAL_TYPES = (
    "FirmwareUpdated",
    "SettingSystemTime",
    "StartupOfTheDevice",
    "ResetOrReboot",
    "SecurityLogWasCleared",
    "MemoryExhaustion",
    "TamperDetectionActivated",
)
MAX_TYPE_LENGTH = 50
MAX_TECH_INFO_LENGTH = 255

# RFC 3339 with an offset; at most six fractional digits, so a reported instant and its listed one are equal.
_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})")


def parse_instant(text: str) -> datetime | None:
    """An ISO-8601 date-time with an offset (`Z` or `±hh:mm`) as an aware UTC datetime; None when it is not one."""
    if not _INSTANT.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:  # 2026-02-30 and the like
        return None


def iso_micro(moment: datetime) -> str:
    """UTC with six fractional digits and `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class SimSession:
    """A session the simulator started."""

    session_id: int
    authorization_id: int
    charge_point_id: int
    evse_id: int
    connector_id: int | None
    user_id: int | None
    id_tag: str | None
    started_at: datetime
    last_updated_at: datetime
    randomised_delay: int = field(default_factory=lambda: random.randint(0, 600))


def session_resource(session: SimSession) -> dict[str, Any]:
    """AMPECO's Session object (3.110.0): the listing item and `SessionUpdateNotification.session`."""
    data: dict[str, Any] = {
        "id": str(session.session_id),
        "chargePointId": session.charge_point_id,
        "evseId": session.evse_id,
        "connectorId": session.connector_id,
        "status": "active",
        "userId": session.user_id,
        "startedAt": iso_micro(session.started_at),
        "stoppedAt": None,
        "energy": 0,
        "authorizationId": session.authorization_id,
        "paymentStatus": None,
        "lastUpdatedAt": iso_micro(session.last_updated_at),
        "randomisedDelay": session.randomised_delay,
        "externalAppData": None,
        "energyConsumption": {"total": 0, "grid": 0},
        "billingStatus": None,
        "power": {"latest": None, "peak": None, "average": None},
    }
    if session.id_tag is not None:
        data["idTag"] = session.id_tag
    return data


@dataclass(frozen=True)
class SecurityEventRecord:
    """A security event the simulated tenant recorded. `reported` is the timestamp as the charge point sent it."""

    id: int
    charge_point: int
    type: str
    timestamp: datetime
    reported: str
    tech_info: str | None
    critical: bool

    @property
    def listed(self) -> bool:
        return self.type in CRITICAL_TYPES

    def listing_item(self) -> dict[str, Any]:
        """The item of `GET /public-api/resources/security-events/v2.0`."""
        return {
            "id": self.id,
            "chargePoint": self.charge_point,
            "type": self.type,
            "techInfo": self.tech_info or "",
            "timestamp": iso_micro(self.timestamp),
        }

    def stored_item(self) -> dict[str, Any]:
        """The listing item plus `critical`: what the simulator hands back when it records one."""
        return {**self.listing_item(), "critical": self.critical}

    def notification(self) -> dict[str, Any]:
        """`SecurityEventNotification` (AMPECO 3.110.0 callback); techInfo omitted when there is none."""
        body: dict[str, Any] = {
            "notification": "SecurityEventNotification",
            "chargePointId": self.charge_point,
            "type": self.type,
            "timestamp": self.reported,
        }
        if self.tech_info is not None:
            body["techInfo"] = self.tech_info
        body["critical"] = self.critical
        return body


def security_event_problems(
    charge_point: object, type_: object, timestamp: object, tech_info: object, critical: object
) -> dict[str, list[str]]:
    """What is wrong with a security event to record, by AMPECO's field names (empty when nothing is)."""
    problems: dict[str, list[str]] = {}
    if not (isinstance(charge_point, int) and not isinstance(charge_point, bool) and charge_point > 0):
        problems["chargePoint"] = ["The charge point must be a positive integer."]
    if not (isinstance(type_, str) and 0 < len(type_) <= MAX_TYPE_LENGTH):
        problems["type"] = [f"The type must be a non-empty string of at most {MAX_TYPE_LENGTH} characters."]
    if not (isinstance(timestamp, datetime) and timestamp.tzinfo is not None) and not (
        isinstance(timestamp, str) and parse_instant(timestamp) is not None
    ):
        problems["timestamp"] = ["The timestamp must be an ISO-8601 date-time with an offset."]
    if tech_info is not None and not (isinstance(tech_info, str) and len(tech_info) <= MAX_TECH_INFO_LENGTH):
        problems["techInfo"] = [f"The tech info must be a string of at most {MAX_TECH_INFO_LENGTH} characters."]
    if critical is not None and not isinstance(critical, bool):
        problems["critical"] = ["The critical field must be true or false."]
    return problems


def validation_error(errors: dict[str, list[str]]) -> dict[str, Any]:
    """AMPECO's 422 body (Laravel's): the first message, how many more there are, and every one by field."""
    first = next(iter(errors.values()))[0]
    more = sum(len(texts) for texts in errors.values()) - 1
    suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    return {"message": first + suffix, "errors": errors}


class TenantRecords:
    """Every session started and every security event recorded, in memory, for the listings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[int, SimSession] = {}
        self._events: list[SecurityEventRecord] = []
        # Ids below 2^53 that do not repeat across simulators in one process (tests start many).
        self._event_ids = itertools.count(random.randrange(1, 9_000) * 1_000_000 + 1)

    def add_session(self, session: SimSession) -> None:
        with self._lock:
            self._sessions[session.session_id] = replace(session)

    def sessions(self) -> list[SimSession]:
        with self._lock:
            return [replace(session) for session in self._sessions.values()]

    def add_security_event(
        self,
        charge_point: int,
        type_: str,
        timestamp: datetime | str,
        tech_info: str | None = None,
        critical: bool | None = None,
    ) -> SecurityEventRecord:
        """Store one event with the next id; ValueError naming each bad field (see security_event_problems)."""
        problems = security_event_problems(charge_point, type_, timestamp, tech_info, critical)
        if problems:
            raise ValueError("; ".join(f"{name}: {' '.join(texts)}" for name, texts in problems.items()))
        instant = parse_instant(timestamp) if isinstance(timestamp, str) else timestamp.astimezone(UTC)
        if instant is None:  # not reached: the problems above name a bad timestamp
            raise ValueError(f"timestamp: {timestamp!r}")
        reported = timestamp if isinstance(timestamp, str) else iso_micro(instant)
        with self._lock:
            record = SecurityEventRecord(
                id=next(self._event_ids),
                charge_point=charge_point,
                type=type_,
                timestamp=instant,
                reported=reported,
                tech_info=tech_info,
                critical=type_ in CRITICAL_TYPES if critical is None else critical,
            )
            self._events.append(record)
        return record

    def security_events(self) -> list[SecurityEventRecord]:
        with self._lock:
            return list(self._events)
