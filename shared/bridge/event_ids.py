"""Security-event ids: JSON-safe integers, ordered by occurrence time, derived from the dedup key.

id = epoch milliseconds x 2048 + slot. Ordering ids orders events by time, so a time range is a key
range of whole milliseconds (the listing drops what falls outside its microsecond bounds); the slot comes
from a hash of the event's dedup key, so a redelivery lands on the same id and the event's own
conditional put is the dedup check. When another event already holds the slot, the next
slot of the same millisecond is probed, so the probe sequence, and the id, is the same every time.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

SLOTS_PER_MS = 2048
# 2100-01-01T00:00:00Z: the largest millisecond whose ids stay below 2**53.
MAX_EPOCH_MS = 4_102_444_800_000
assert (MAX_EPOCH_MS + 1) * SLOTS_PER_MS <= 2**53
_ONE_MS = timedelta(milliseconds=1)
_EVENT_NAMESPACE = uuid.UUID("1f6b7c1e-5a51-4d5e-9a0c-6d1f4f7b2a90")


def epoch_ms(moment: datetime) -> int:
    """Whole milliseconds since the epoch (floor)."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // _ONE_MS


def in_id_range(moment: datetime) -> bool:
    """Whether an event at this moment can have an id (1970 to 2099)."""
    return 0 <= epoch_ms(moment) < MAX_EPOCH_MS


def candidate_ids(moment: datetime, dedup_key: str) -> Iterator[int]:
    """The ids this event may take, in probe order."""
    base = epoch_ms(moment) * SLOTS_PER_MS
    first = int.from_bytes(hashlib.sha256(dedup_key.encode()).digest()[:4], "big") % SLOTS_PER_MS
    for step in range(SLOTS_PER_MS):
        yield base + (first + step) % SLOTS_PER_MS


def lowest_id(moment_ms: int) -> int:
    """The smallest id of any event in this millisecond."""
    return moment_ms * SLOTS_PER_MS


def highest_id(moment_ms: int) -> int:
    """The largest id of any event in this millisecond."""
    return moment_ms * SLOTS_PER_MS + SLOTS_PER_MS - 1


def message_id(dedup_key: str) -> str:
    """The eventId subscribers deduplicate on: the same for every retry and redrive."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, dedup_key))
